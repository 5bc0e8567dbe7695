// Package metricsrpc serves the metric registry over a local gRPC stream
// (buzz.metrics.v1.MetricsService) to the statsd-sidecar, and samples the
// connection pools into it. The registry is only ever read here, by each
// stream's own goroutine, so a slow or absent reader never touches recording.
package metricsrpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
)

// Identity names one run of the relay process. A new InstanceID tells the
// sidecar that counters restarted from zero.
type Identity struct {
	InstanceID string
	PID        int64
	Hostname   string
	StartTime  time.Time
}

// NewIdentity returns the identity of the current process with a fresh
// random instance id.
func NewIdentity() Identity {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	host, _ := os.Hostname()
	return Identity{InstanceID: hex.EncodeToString(b[:]), PID: int64(os.Getpid()), Hostname: host, StartTime: time.Now()}
}

// Option adjusts a Server.
type Option func(*Server)

// WithInterval sets the time between messages on a stream (default 1 s).
func WithInterval(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.interval = d
		}
	}
}

// WithFullEvery makes every n-th message a full snapshot (default 60, about
// once a minute); n <= 0 sends a full snapshot only first.
func WithFullEvery(n int) Option { return func(s *Server) { s.fullEvery = n } }

// HealthService is the name the server reports in grpc.health.v1, besides "".
const HealthService = "buzz.metrics.v1.MetricsService"

// Server streams a registry to any number of readers.
type Server struct {
	m         *metrics.Metrics
	id        *metricsv1.Process
	interval  time.Duration
	fullEvery int
	descs     []*metricsv1.MetricFamily // descriptors without series, by family index

	grpc   *grpc.Server
	health *health.Server
	done   chan struct{} // closed to end every stream
	stop   sync.Once

	mu   sync.Mutex
	addr net.Addr
}

// NewServer prepares a server for m; call Serve or ServeListener to run it.
func NewServer(m *metrics.Metrics, id Identity, opts ...Option) *Server {
	s := &Server{
		m: m,
		id: &metricsv1.Process{InstanceId: id.InstanceID, Pid: id.PID, Hostname: id.Hostname,
			StartTimeUnixNano: id.StartTime.UnixNano()},
		interval:  time.Second,
		fullEvery: 60,
		done:      make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	for _, f := range m.Families() {
		s.descs = append(s.descs, describe(f))
	}
	s.grpc = grpc.NewServer(
		// Find dead readers; sidecars ping every 10 s.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	metricsv1.RegisterMetricsServiceServer(s.grpc, &service{s: s})
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(HealthService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s
}

// Listen opens addr: "host:port" for TCP or "unix:///path.sock" (also
// "unix:path") for a Unix socket. A stale socket file nobody listens on is
// removed first; a live one is an error.
func Listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix://")
	if !ok {
		path, ok = strings.CutPrefix(addr, "unix:")
	}
	if !ok {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("metricsrpc: listen %s: %w", addr, err)
		}
		return lis, nil
	}
	if path == "" {
		return nil, fmt.Errorf("metricsrpc: listen %q: empty socket path", addr)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("metricsrpc: listen %s: %w", addr, syscall.EADDRINUSE)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("metricsrpc: remove stale socket %s: %w", path, err)
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("metricsrpc: listen %s: %w", addr, err)
	}
	return lis, nil
}

// Serve listens on addr (see Listen) and serves until ctx ends or the
// server is stopped. A normal stop returns nil.
func (s *Server) Serve(ctx context.Context, addr string) error {
	lis, err := Listen(addr)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, lis)
}

// ServeListener serves on lis (which it closes) until ctx ends or the
// server is stopped. Binding first with Listen lets the caller report a bad
// address before starting anything else.
func (s *Server) ServeListener(ctx context.Context, lis net.Listener) error {
	s.mu.Lock()
	s.addr = lis.Addr()
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(lis) }()
	select {
	case err := <-errc:
		return serveErr(err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
		return serveErr(<-errc)
	}
}

func serveErr(err error) error {
	if err == nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return fmt.Errorf("metricsrpc: serve: %w", err)
}

// Addr returns the address being served, or nil before serving starts.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown ends every stream, then waits for the server to finish until ctx
// ends, after which it closes the remaining connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.endStreams()
	finished := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		s.grpc.Stop()
		<-finished
		return ctx.Err()
	}
}

// Stop closes every connection at once.
func (s *Server) Stop() {
	s.endStreams()
	s.grpc.Stop()
}

func (s *Server) endStreams() {
	s.stop.Do(func() {
		s.health.Shutdown()
		close(s.done)
	})
}

// service adapts Server to the generated interface without widening
// Server's own API.
type service struct {
	metricsv1.UnimplementedMetricsServiceServer
	s *Server
}

// Stream sends a full snapshot, then the changed series every interval.
func (v *service) Stream(_ *metricsv1.StreamRequest, stream grpc.ServerStreamingServer[metricsv1.StreamResponse]) error {
	s := v.s
	ctx := stream.Context()
	r := newReader(s)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for seq := uint64(1); ; seq++ {
		full := seq == 1 || (s.fullEvery > 0 && (seq-1)%uint64(s.fullEvery) == 0)
		if err := stream.Send(r.next(seq, full)); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return status.Error(codes.Unavailable, "metrics server shutting down")
		}
	}
}
