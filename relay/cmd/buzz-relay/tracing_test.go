package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/relaytest/proctest"
	"github.com/buzzrelay/buzz/relay/internal/telemetry/otlptest"
)

// traffic is what driveTraffic sent, for matching spans against.
type traffic struct {
	ev1, ev2    string // kind-1 events: ev1 before the REQ, ev2 fanned out to it
	reqSub      string
	countSub    string
	infoTrace   string // trace id of the traceparent sent with GET /info
	infoParent  string // its parent span id
	infoStatus  int
	countResult float64
}

// driveTraffic sends AUTH, EVENT, REQ, a second EVENT (delivered live to
// the REQ), COUNT and GET /info to the relay.
func driveTraffic(t *testing.T, p *proctest.Relay) traffic {
	t.Helper()
	tr := traffic{reqSub: "trace-req", countSub: "trace-count",
		infoTrace: "4bf92f3577b34da6a3ce929d0e0e4736", infoParent: "00f067aa0ba902b7"}
	u := relaytest.NewUser(t)
	c, err := relaytest.DialRaw(p.URL, u) // AUTH
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ev1 := u.Event(t, 1, "traced one")
	if ok, msg, err := c.Publish(ev1); err != nil || !ok {
		t.Fatalf("EVENT 1: %v %q %v", ok, msg, err)
	}
	tr.ev1 = ev1.ID

	send := func(v ...any) {
		b, _ := json.Marshal(v)
		if err := c.WS.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	// next reads until a frame of type typ for sub arrives.
	next := func(typ, sub string) []any {
		for {
			m, err := c.Next(5 * time.Second)
			if err != nil {
				t.Fatalf("waiting for %s %s: %v", typ, sub, err)
			}
			if len(m) >= 2 && m[0] == typ && m[1] == sub {
				return m
			}
			if len(m) >= 2 && m[0] == "CLOSED" && m[1] == sub {
				t.Fatalf("relay closed %s: %v", sub, m)
			}
		}
	}

	send("REQ", tr.reqSub, map[string]any{"authors": []string{u.PK}, "kinds": []int{1}})
	got := next("EVENT", tr.reqSub)
	if id, _ := got[2].(map[string]any)["id"].(string); id != ev1.ID {
		t.Fatalf("REQ returned %v, want %s", got, ev1.ID)
	}
	next("EOSE", tr.reqSub)

	ev2 := u.Event(t, 1, "traced two")
	if ok, msg, err := c.Publish(ev2); err != nil || !ok {
		t.Fatalf("EVENT 2: %v %q %v", ok, msg, err)
	}
	tr.ev2 = ev2.ID
	got = next("EVENT", tr.reqSub)
	if id, _ := got[2].(map[string]any)["id"].(string); id != ev2.ID {
		t.Fatalf("live delivery %v, want %s", got, ev2.ID)
	}

	send("COUNT", tr.countSub, map[string]any{"authors": []string{u.PK}, "kinds": []int{1}})
	got = next("COUNT", tr.countSub)
	tr.countResult, _ = got[2].(map[string]any)["count"].(float64)

	req, err := http.NewRequest(http.MethodGet, "http://"+strings.TrimPrefix(p.URL, "ws://")+"/info", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", "00-"+tr.infoTrace+"-"+tr.infoParent+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tr.infoStatus = resp.StatusCode
	return tr
}

// stopProc sends SIGTERM and waits for a clean exit: shutdown flushes the
// tracer provider, so every span is exported by the time it returns.
func stopProc(t *testing.T, p *proctest.Relay) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	if code := p.ExitCode(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

func tracingEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"BUZZ_DRAIN_DELAY_SECS":   "0",
		"OTEL_SERVICE_NAME":       "buzz-test",
		"OTEL_BSP_SCHEDULE_DELAY": "100",
		// Whatever the test runner's environment says, sample everything.
		"OTEL_TRACES_SAMPLER":      "parentbased_always_on",
		"OTEL_TRACES_SAMPLER_ARG":  "",
		"OTEL_RESOURCE_ATTRIBUTES": "",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestTracingEndToEnd(t *testing.T) {
	rcv := otlptest.Start(t)
	p := startProc(t, tracingEnv(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rcv.Addr}))
	assertListensOnlyOwnPorts(t, p)
	tr := driveTraffic(t, p)
	if tr.countResult != 2 {
		t.Errorf("COUNT answered %v, want 2", tr.countResult)
	}
	if tr.infoStatus != http.StatusOK {
		t.Errorf("GET /info status %d", tr.infoStatus)
	}
	stopProc(t, p)

	msgs := p.Messages()
	if !slices.Contains(msgs, "tracing enabled") {
		t.Errorf("log does not say tracing is enabled: %q", msgs)
	}
	if slices.Contains(msgs, "tracer flush failed") {
		t.Errorf("tracer flush failed at shutdown: %q", msgs)
	}

	spans := rcv.Spans()
	if len(spans) == 0 {
		t.Fatal("the receiver got no spans")
	}
	byName := map[string][]otlptest.Span{}
	byID := map[string]otlptest.Span{}
	for _, s := range spans {
		byName[s.GetName()] = append(byName[s.GetName()], s)
		byID[s.SpanID()] = s
		if got := s.Resource["service.name"]; got != "buzz-test" {
			t.Errorf("span %s: resource service.name %q, want buzz-test", s.GetName(), got)
		}
	}
	t.Logf("received %d spans: %v", len(spans), spanNames(spans))

	// one returns the single span named name that satisfies match.
	one := func(name, what string, match func(otlptest.Span) bool) (otlptest.Span, bool) {
		var found []otlptest.Span
		for _, s := range byName[name] {
			if match == nil || match(s) {
				found = append(found, s)
			}
		}
		if len(found) != 1 {
			t.Errorf("want exactly one %s span%s, got %d (all spans: %v)", name, what, len(found), spanNames(spans))
			return otlptest.Span{}, false
		}
		return found[0], true
	}
	// childOf checks that exactly one span named name is a child of parent.
	childOf := func(name string, parent otlptest.Span) (otlptest.Span, bool) {
		child, ok := one(name, " child of "+parent.GetName()+" "+parent.SpanID(), func(s otlptest.Span) bool { return s.ParentID() == parent.SpanID() })
		if !ok {
			return child, false
		}
		if child.TraceID() != parent.TraceID() {
			t.Errorf("%s: trace %s, parent %s is in trace %s", name, child.TraceID(), parent.GetName(), parent.TraceID())
		}
		return child, true
	}
	// root checks a per-message span starts its own trace.
	root := func(s otlptest.Span) {
		if len(s.GetParentSpanId()) != 0 {
			t.Errorf("%s has parent %s, want a root span (one trace per message)", s.GetName(), s.ParentID())
		}
	}

	auth, ok := one("ws.auth", "", nil)
	if !ok {
		t.FailNow()
	}
	root(auth)
	connID := auth.Attrs["conn_id"]
	if connID == "" {
		t.Fatalf("ws.auth has no conn_id: %v", auth.Attrs)
	}
	withConn := func(s otlptest.Span) {
		if got := s.Attrs["conn_id"]; got != connID {
			t.Errorf("%s conn_id %q, want %q (the connection's)", s.GetName(), got, connID)
		}
	}
	traces := map[string]string{auth.TraceID(): "ws.auth"}
	distinct := func(s otlptest.Span) {
		if prev, dup := traces[s.TraceID()]; dup {
			t.Errorf("%s shares trace %s with %s; each message should have its own trace", s.GetName(), s.TraceID(), prev)
		}
		traces[s.TraceID()] = s.GetName()
	}

	for i, id := range []string{tr.ev1, tr.ev2} {
		ev, ok := one("ws.event", " for event "+id, func(s otlptest.Span) bool { return s.Attrs["event_id"] == id })
		if !ok {
			continue
		}
		root(ev)
		withConn(ev)
		distinct(ev)
		if ev.Attrs["kind"] != "1" {
			t.Errorf("ws.event kind %q, want 1", ev.Attrs["kind"])
		}
		childOf("store.save", ev)
		fan, ok := childOf("fanout.scoped", ev)
		if !ok {
			continue
		}
		if fan.Attrs["event_id"] != id {
			t.Errorf("fanout.scoped event_id %q, want %s", fan.Attrs["event_id"], id)
		}
		// ev2 went live to the open REQ; ev1 was sent before it existed.
		if want := strconv.Itoa(i); fan.Attrs["recipients"] != want {
			t.Errorf("fanout.scoped for event %d: recipients %q, want %s", i+1, fan.Attrs["recipients"], want)
		}
	}

	if req, ok := one("ws.req", "", nil); ok {
		root(req)
		withConn(req)
		distinct(req)
		if req.Attrs["sub_id"] != tr.reqSub {
			t.Errorf("ws.req sub_id %q, want %q", req.Attrs["sub_id"], tr.reqSub)
		}
		childOf("store.query", req)
	}
	if cnt, ok := one("ws.count", "", nil); ok {
		root(cnt)
		withConn(cnt)
		distinct(cnt)
		if cnt.Attrs["sub_id"] != tr.countSub {
			t.Errorf("ws.count sub_id %q, want %q", cnt.Attrs["sub_id"], tr.countSub)
		}
		childOf("store.count", cnt)
	}

	// GET /info: a server span continuing the caller's traceparent.
	if info, ok := one("GET /info", "", nil); ok {
		if info.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("GET /info span kind %v, want server", info.GetKind())
		}
		if info.TraceID() != tr.infoTrace || info.ParentID() != tr.infoParent {
			t.Errorf("GET /info span in trace %s under %s, want %s under %s",
				info.TraceID(), info.ParentID(), tr.infoTrace, tr.infoParent)
		}
		if info.Attrs["http.route"] != "/info" || info.Attrs["http.response.status_code"] != "200" ||
			info.Attrs["http.request.method"] != "GET" {
			t.Errorf("GET /info attributes %v", info.Attrs)
		}
	}

	// Every span's parent, when it has one, was exported too (apart from
	// the remote caller of GET /info): no orphans, so each trace is whole.
	for _, s := range spans {
		if len(s.GetParentSpanId()) == 0 || s.ParentID() == tr.infoParent {
			continue
		}
		if _, ok := byID[s.ParentID()]; !ok {
			t.Errorf("span %s has parent %s that was never exported", s.GetName(), s.ParentID())
		}
	}
}

func TestTracingDisabledDialsNothing(t *testing.T) {
	rcv := otlptest.Start(t)
	// The endpoint must be absent from the relay's environment, not blank.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if err := os.Unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT"); err != nil {
		t.Fatal(err)
	}
	// Every other OTEL_* variable that could address a collector points at
	// the test's receiver: none of them may switch tracing on.
	target := "http://" + rcv.Addr
	p := startProc(t, tracingEnv(map[string]string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":  target,
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": target,
		"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT":    target,
		"OTEL_EXPORTER_OTLP_INSECURE":         "true",
		"OTEL_EXPORTER_OTLP_PROTOCOL":         "grpc",
		"OTEL_TRACES_EXPORTER":                "otlp",
		"OTEL_TRACES_SAMPLER":                 "always_on",
	}))
	if env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.Pid()), "environ")); err == nil &&
		strings.Contains("\x00"+string(env), "\x00OTEL_EXPORTER_OTLP_ENDPOINT=") {
		t.Fatal("the relay's environment still has OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	assertListensOnlyOwnPorts(t, p)
	tr := driveTraffic(t, p)
	if tr.countResult != 2 || tr.infoStatus != http.StatusOK {
		t.Errorf("traffic: count %v, GET /info %d", tr.countResult, tr.infoStatus)
	}
	// Several batch-processor intervals pass before shutdown, and shutdown
	// would flush anything buffered.
	time.Sleep(400 * time.Millisecond)
	stopProc(t, p)

	if n := rcv.Accepts(); n != 0 {
		t.Errorf("the relay made %d connection(s) to the OTEL_* listener with tracing off", n)
	}
	if n := len(rcv.Spans()); n != 0 {
		t.Errorf("the receiver got %d spans with tracing off", n)
	}
	msgs := p.Messages()
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m), "tracing") {
			t.Errorf("log mentions tracing with the endpoint unset: %q", m)
		}
	}
	if !slices.Contains(msgs, "shutdown: complete") {
		t.Errorf("shutdown did not complete: %q", msgs)
	}
	for _, l := range p.Lines() {
		if _, ok := l["endpoint"]; ok {
			t.Errorf("log line names an endpoint with tracing off: %v", l)
		}
	}
}

// assertListensOnlyOwnPorts checks that every TCP socket the relay listens
// on is one of the three it announced (WebSocket/HTTP, health, metrics
// stream): tracing opens no listener of its own.
func assertListensOnlyOwnPorts(t *testing.T, p *proctest.Relay) {
	t.Helper()
	want := map[int]bool{}
	for _, l := range p.Lines() {
		if l["msg"] != "relay listening" {
			continue
		}
		for _, k := range []string{"ws_addr", "health_addr", "metrics_grpc_addr"} {
			s, _ := l[k].(string)
			_, port, err := net.SplitHostPort(s)
			n, err2 := strconv.Atoi(port)
			if err != nil || err2 != nil {
				t.Errorf("relay listening line: bad %s %q", k, s)
				continue
			}
			want[n] = true
		}
	}
	if len(want) != 3 {
		t.Fatalf("announced listen ports %v, want 3", want)
	}

	pid := p.Pid()
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatalf("read the relay's descriptors: %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	listening := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "net", table))
		if err != nil {
			t.Fatalf("read %s table: %v", table, err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			port, err := strconv.ParseInt(f[1][i+1:], 16, 32)
			if err != nil {
				t.Fatalf("bad %s line %q", table, line)
			}
			listening[int(port)] = true
		}
	}
	for port := range listening {
		if !want[port] {
			t.Errorf("the relay listens on port %d, which is none of its announced ports %v", port, want)
		}
	}
	for port := range want {
		if !listening[port] {
			t.Errorf("announced port %d not found among the relay's listening sockets %v (socket scan broken?)", port, listening)
		}
	}
}

func spanNames(spans []otlptest.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = fmt.Sprintf("%s(%s<-%s)", s.GetName(), s.SpanID()[:4], s.ParentID())
	}
	return out
}
