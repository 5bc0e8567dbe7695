package metricsrpc

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start serves m on a fresh loopback port and returns a connected client.
func start(t *testing.T, m *metrics.Metrics, opts ...Option) (*Server, *grpc.ClientConn) {
	t.Helper()
	s := NewServer(m, NewIdentity(), opts...)
	lis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.ServeListener(ctx, lis) }()
	conn := dial(t, lis.Addr().String())
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, conn
}

func dial(t *testing.T, target string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func open(t *testing.T, ctx context.Context, conn *grpc.ClientConn) grpc.ServerStreamingClient[metricsv1.StreamResponse] {
	t.Helper()
	st, err := metricsv1.NewMetricsServiceClient(conn).Stream(ctx, &metricsv1.StreamRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func family(msg *metricsv1.StreamResponse, name string) *metricsv1.MetricFamily {
	for _, f := range msg.Families {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func TestFullThenDeltas(t *testing.T) {
	m := metrics.New()
	m.WSConnections.Add(3)
	m.HTTPLatencyMS.With("200", "web", "/a").Observe(7)
	_, conn := start(t, m, WithInterval(20*time.Millisecond), WithFullEvery(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := open(t, ctx, conn)

	first, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if !first.Full || first.Sequence != 1 || first.Process.GetInstanceId() == "" || first.Process.GetPid() != int64(os.Getpid()) ||
		first.IntervalMs != 20 || first.Process.GetStartTimeUnixNano() == 0 {
		t.Fatalf("first message header: full=%v seq=%d process=%v interval=%d", first.Full, first.Sequence, first.Process, first.IntervalMs)
	}
	if f := family(first, "buzz_ws_connections_total"); f == nil || f.Series[0].Value != 3 || f.Type != metricsv1.MetricType_METRIC_TYPE_COUNTER {
		t.Fatalf("counter in full snapshot: %v", f)
	}
	h := family(first, "http_request_latency_ms")
	if h == nil || len(h.Buckets) != 11 || h.Buckets[0].Le != "5" || h.Buckets[10].Le != "10000" || h.Buckets[10].UpperBound != 10000 {
		t.Fatalf("histogram descriptor: %v", h)
	}
	if s := h.Series[0]; s.Count != 1 || s.Sum != 7 || s.BucketCounts[0] != 0 || s.BucketCounts[1] != 1 || len(s.LabelValues) != 3 {
		t.Fatalf("histogram series: %v", s)
	}
	if family(first, "buzz_db_pool_size") != nil {
		t.Fatal("unsampled pool gauge was sent")
	}
	if got := len(first.Families); got < 20 {
		t.Fatalf("full snapshot has only %d families", got)
	}

	// Nothing changed: an empty heartbeat.
	msg, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if msg.Full || msg.Sequence != 2 || len(msg.Families) != 0 {
		t.Fatalf("idle message: full=%v seq=%d families=%d", msg.Full, msg.Sequence, len(msg.Families))
	}

	// One change: only that series.
	m.HTTPRequests.With("404", "web", "/b").Inc()
	m.WSConnections.Inc()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		msg, err = st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Families) > 0 {
			break
		}
	}
	if len(msg.Families) != 2 {
		t.Fatalf("delta families: %v", msg.Families)
	}
	if f := family(msg, "buzz_ws_connections_total"); f == nil || f.Series[0].Value != 4 {
		t.Fatalf("delta counter: %v", f)
	}
	if f := family(msg, "http_requests_total"); f == nil || len(f.Series) != 1 || f.Series[0].LabelValues[0] != "404" ||
		len(f.LabelNames) != 3 || f.Help == "" {
		t.Fatalf("delta vec: %v", f)
	}
}

func TestPeriodicFullResend(t *testing.T) {
	m := metrics.New()
	_, conn := start(t, m, WithInterval(5*time.Millisecond), WithFullEvery(3))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := open(t, ctx, conn)
	var fulls []uint64
	for range 7 {
		msg, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if msg.Full {
			fulls = append(fulls, msg.Sequence)
		}
	}
	if len(fulls) != 3 || fulls[0] != 1 || fulls[1] != 4 || fulls[2] != 7 {
		t.Fatalf("full messages at %v, want [1 4 7]", fulls)
	}
}

func TestSeveralReadersAndStalledReader(t *testing.T) {
	m := metrics.New()
	// Many series make each full message large, so a reader that never reads
	// fills its flow-control window quickly.
	for i := range 1000 {
		m.HTTPLatencyMS.With("200", "caller"+string(rune('a'+i%26))+string(rune('a'+i/26)), "/x").Observe(1)
	}
	_, conn := start(t, m, WithInterval(time.Millisecond), WithFullEvery(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	stalled := open(t, ctx, dialSame(t, conn))
	_ = stalled // opened, never read

	var got [3]atomic.Int64
	for i := range got {
		st := open(t, ctx, conn)
		go func() {
			for {
				if _, err := st.Recv(); err != nil {
					return
				}
				got[i].Add(1)
			}
		}()
	}
	// Recording keeps its speed while the stalled stream's window is full.
	time.Sleep(300 * time.Millisecond)
	startRec := time.Now()
	for range 1_000_000 {
		m.WSConnections.Inc()
	}
	if d := time.Since(startRec); d > 2*time.Second {
		t.Fatalf("1e6 increments took %v with a stalled reader", d)
	}
	for i := range got {
		before := got[i].Load()
		deadline := time.Now().Add(5 * time.Second)
		for got[i].Load() == before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got[i].Load() == before {
			t.Fatalf("reader %d stopped receiving", i)
		}
	}
}

// dialSame opens a second connection to the server conn talks to, so the
// stalled stream does not share (and exhaust) the healthy readers' window.
func dialSame(t *testing.T, conn *grpc.ClientConn) *grpc.ClientConn {
	c := dial(t, conn.Target())
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUnixSocketStaleFileAndShutdown(t *testing.T) {
	dir, err := os.MkdirTemp("", "mrpc") // short path: sun_path is ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.sock")
	// Leave a stale socket file behind, as a crashed relay would.
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left: %v", err)
	}

	m := metrics.New()
	s := NewServer(m, NewIdentity(), WithInterval(10*time.Millisecond))
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), "unix://"+path) }()
	conn := dial(t, "unix://"+path)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	hc := healthpb.NewHealthClient(conn)
	var resp *healthpb.HealthCheckResponse
	for {
		resp, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: HealthService})
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", resp, err)
	}
	// A second server on the same live socket is refused.
	if _, err := Listen("unix://" + path); err == nil {
		t.Fatal("listened twice on a live socket")
	}

	st := open(t, ctx, conn)
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("serve after shutdown: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left after shutdown: %v", err)
	}
}

func TestListenErrors(t *testing.T) {
	for _, addr := range []string{"unix://", "not-an-address", "127.0.0.1:99999"} {
		if lis, err := Listen(addr); err == nil {
			lis.Close()
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
}

func TestPoolSampler(t *testing.T) {
	m := metrics.New()
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunPoolSampler(ctx, m, 5*time.Millisecond, func() (int64, int64, int64) {
			calls.Add(1)
			return 10, 4, 20
		}, nil)
	}()
	for calls.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	for g, want := range map[*metrics.Gauge]int64{m.DBPoolSize: 10, m.DBPoolIdle: 4, m.DBPoolActive: 6, m.DBPoolMax: 20} {
		if v, ok := g.Value(); !ok || v != want {
			t.Errorf("db gauge = %v %v, want %v", v, ok, want)
		}
	}
	for _, g := range []*metrics.Gauge{m.RedisPoolSize, m.RedisPoolAvailable, m.RedisPoolMax, m.RedisPoolWaiting} {
		if _, ok := g.Value(); ok {
			t.Error("redis gauge set without redis")
		}
	}

	// A zero or negative interval neither crashes nor spins; redis is sampled.
	for _, iv := range []time.Duration{0, -time.Second} {
		m := metrics.New()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		var rc atomic.Int64
		RunPoolSampler(ctx, m, iv, nil, func() (int64, int64, int64, int64) {
			rc.Add(1)
			return 3, 1, 8, 2
		})
		cancel()
		if rc.Load() != 1 {
			t.Errorf("interval %v: %d samples in 50ms", iv, rc.Load())
		}
		if v, ok := m.RedisPoolWaiting.Value(); !ok || v != 2 {
			t.Errorf("redis waiting = %v %v", v, ok)
		}
		if _, ok := m.DBPoolSize.Value(); ok {
			t.Error("db gauge set without db")
		}
	}
}
