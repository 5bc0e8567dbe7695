// Package testrelay is a real gRPC server speaking buzz.metrics.v1 with
// scripted content, for the sidecar's tests: it plays a relay whose metric
// values, identity and wire quirks (unknown fields, unknown types) the test
// controls.
package testrelay

import (
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
)

// Server serves the scripted registry to any number of streams.
type Server struct {
	grpc     *grpc.Server
	lis      net.Listener
	interval time.Duration

	mu       sync.Mutex
	process  *metricsv1.Process
	families map[string]*metricsv1.MetricFamily
	versions map[string]uint64
	version  uint64
	extra    []*metricsv1.StreamResponse // sent once to every open stream
	streams  int
}

// Start serves on a free loopback port, sending every interval.
func Start(interval time.Duration) (*Server, error) { return StartAt("127.0.0.1:0", interval) }

// StartAt serves on addr (e.g. a port a previous Server used).
func StartAt(addr string, interval time.Duration) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{grpc: grpc.NewServer(), lis: lis, interval: interval,
		families: map[string]*metricsv1.MetricFamily{}, versions: map[string]uint64{}}
	s.process = newProcess("relay-1")
	metricsv1.RegisterMetricsServiceServer(s.grpc, &service{s: s})
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

func newProcess(id string) *metricsv1.Process {
	return &metricsv1.Process{InstanceId: id, Pid: 4242, Hostname: "test", StartTimeUnixNano: time.Now().UnixNano()}
}

// Addr is the "host:port" to dial.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Stop closes the server and every stream.
func (s *Server) Stop() { s.grpc.Stop() }

// Streams returns how many streams have been opened.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams
}

// Set replaces a family (descriptor and all its series).
func (s *Server) Set(f *metricsv1.MetricFamily) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.families[f.Name] = proto.Clone(f).(*metricsv1.MetricFamily)
	s.versions[f.Name] = s.version
}

// Restart plays a relay restart: a new identity and an empty registry.
func (s *Server) Restart(instanceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.process = newProcess(instanceID)
	s.families = map[string]*metricsv1.MetricFamily{}
	s.versions = map[string]uint64{}
}

// Inject queues a raw message for the streams open now and later.
func (s *Server) Inject(m *metricsv1.StreamResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extra = append(s.extra, m)
}

// WithUnknownField returns a copy of m carrying a field number no schema
// version defines, as a newer relay might send.
func WithUnknownField[M proto.Message](m M) M {
	c := proto.Clone(m).(M)
	raw := protowire.AppendTag(nil, 999, protowire.BytesType)
	raw = protowire.AppendString(raw, "from the future")
	c.ProtoReflect().SetUnknown(raw)
	return c
}

type service struct {
	metricsv1.UnimplementedMetricsServiceServer
	s *Server
}

// build returns the next message for a stream that has seen versions up to
// seen from process id (all of it when full).
func (s *Server) build(seq uint64, lastID string, seen uint64, sentExtra int) (*metricsv1.StreamResponse, []*metricsv1.StreamResponse, uint64, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	full := seq == 1 || lastID != s.process.InstanceId
	msg := &metricsv1.StreamResponse{Process: s.process, Sequence: seq, Full: full,
		TimeUnixNano: time.Now().UnixNano(), IntervalMs: uint32(s.interval / time.Millisecond)}
	names := make([]string, 0, len(s.families))
	for n := range s.families {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if full || s.versions[n] > seen {
			msg.Families = append(msg.Families, proto.Clone(s.families[n]).(*metricsv1.MetricFamily))
		}
	}
	return msg, s.extra[sentExtra:], s.version, s.process.InstanceId
}

// Stream sends the scripted registry: full first, then changed families.
func (v *service) Stream(_ *metricsv1.StreamRequest, stream grpc.ServerStreamingServer[metricsv1.StreamResponse]) error {
	s := v.s
	s.mu.Lock()
	s.streams++
	s.mu.Unlock()
	var seen uint64
	lastID := ""
	sentExtra := 0
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for seq := uint64(1); ; seq++ {
		msg, extra, version, id := s.build(seq, lastID, seen, sentExtra)
		if err := stream.Send(msg); err != nil {
			return err
		}
		for _, e := range extra {
			if err := stream.Send(e); err != nil {
				return err
			}
		}
		seen, lastID, sentExtra = version, id, sentExtra+len(extra)
		select {
		case <-stream.Context().Done():
			return fmt.Errorf("stream done: %w", stream.Context().Err())
		case <-t.C:
		}
	}
}
