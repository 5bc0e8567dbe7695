package metricsv1_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
)

// protoFile is the schema's path relative to the module root, as buf names it.
const protoFile = "buzz/metrics/v1/metrics.proto"

// moduleRoot is the proto module's directory (tests run in the package dir).
const moduleRoot = "../../.."

// compile parses the .proto with protocompile, the pure-Go compiler buf itself
// is built on, so the check needs neither buf nor protoc nor the network.
func compile(t *testing.T) linker.Result {
	t.Helper()
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{moduleRoot},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), protoFile)
	if err != nil {
		t.Fatalf("compile %s: %v", protoFile, err)
	}
	res, ok := files[0].(linker.Result)
	if !ok {
		t.Fatalf("compile %s: unexpected result type %T", protoFile, files[0])
	}
	return res
}

// runPlugin runs one code generator the way buf.gen.yaml does (`go tool
// <plugin>`, pinned by go.mod's tool directives) and returns its files.
func runPlugin(t *testing.T, plugin string, req *pluginpb.CodeGeneratorRequest) map[string][]byte {
	t.Helper()
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", plugin)
	cmd.Dir = moduleRoot
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool %s: %v\n%s", plugin, err, stderr.String())
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s response: %v", plugin, err)
	}
	if resp.Error != nil {
		t.Fatalf("%s: %s", plugin, resp.GetError())
	}
	files := map[string][]byte{}
	for _, f := range resp.File {
		files[f.GetName()] = []byte(f.GetContent())
	}
	return files
}

// TestGeneratedCodeIsCurrent regenerates metrics.pb.go and metrics_grpc.pb.go
// from metrics.proto and fails when the committed files differ by one byte:
// editing the schema without `make proto` is caught here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	res := compile(t)
	fdp := res.FileDescriptorProto()
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate:        []string{protoFile},
		Parameter:             proto.String("paths=source_relative"),
		ProtoFile:             []*descriptorpb.FileDescriptorProto{fdp},
		SourceFileDescriptors: []*descriptorpb.FileDescriptorProto{fdp},
	}
	want := map[string]string{
		"protoc-gen-go":      "buzz/metrics/v1/metrics.pb.go",
		"protoc-gen-go-grpc": "buzz/metrics/v1/metrics_grpc.pb.go",
	}
	for plugin, name := range want {
		got := runPlugin(t, plugin, req)
		gen, ok := got[name]
		if !ok {
			t.Fatalf("%s produced %v, not %s", plugin, keys(got), name)
		}
		committed, err := os.ReadFile(filepath.Join(moduleRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gen, committed) {
			t.Errorf("%s is stale: run `make proto` and commit the result (first difference at byte %d)",
				name, firstDiff(gen, committed))
		}
	}
}

// TestEmbeddedDescriptorMatchesSchema compares the descriptor compiled into
// the Go package with a fresh parse of the .proto, independently of how the
// generators format their output.
func TestEmbeddedDescriptorMatchesSchema(t *testing.T) {
	res := compile(t)
	fresh := res.FileDescriptorProto()
	fresh = proto.Clone(fresh).(*descriptorpb.FileDescriptorProto)
	fresh.SourceCodeInfo = nil
	embedded := protodesc.ToFileDescriptorProto(metricsv1.File_buzz_metrics_v1_metrics_proto)
	embedded.SourceCodeInfo = nil
	if !proto.Equal(fresh, embedded) {
		t.Fatalf("generated code was built from a different schema than %s: run `make proto`", protoFile)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
