// Package server assembles the relay from its packages and runs its
// lifecycle: start order, and the shutdown order of spec §9.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/audit"
	redisbus "github.com/buzzrelay/buzz/relay/internal/bus/redis"
	"github.com/buzzrelay/buzz/relay/internal/config"
	"github.com/buzzrelay/buzz/relay/internal/fanout"
	"github.com/buzzrelay/buzz/relay/internal/httpapi"
	"github.com/buzzrelay/buzz/relay/internal/ingest"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
	"github.com/buzzrelay/buzz/relay/internal/metricsrpc"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/telemetry"
	"github.com/buzzrelay/buzz/relay/internal/ws"
)

// Server is one running relay.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	tracing *telemetry.Tracing

	Store   store.Store
	Metrics *metrics.Metrics
	Access  *access.Access
	Index   *fanout.Index
	audit   *audit.Log
	ws      *ws.Handler
	health  *httpapi.Health
	rpc     *metricsrpc.Server
	bus     *redisbus.Bus // nil without REDIS_URL

	httpSrv, healthSrv *http.Server
	httpLn, healthLn   net.Listener
	rpcAddr            string

	bg     context.Context
	stopBG context.CancelFunc
	bgWait []chan struct{}
}

// New opens the store and builds every component; nothing listens yet.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, tracing *telemetry.Tracing, version string) (*Server, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	key, err := relayKey(cfg.RelayKey, cfg.DataDir, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	m := metrics.New()
	s := &Server{cfg: cfg, log: log, tracing: tracing, Store: st, Metrics: m, health: &httpapi.Health{}}
	s.bg, s.stopBG = context.WithCancel(context.Background())

	s.Access = access.New(st, access.Config{Allowlist: cfg.PubkeyAllowlist, RequireRelayMembership: cfg.RequireMembership}, accessObserver{m})
	s.Index = fanout.NewIndex(s.Access, fanoutObserver{m})
	// BUZZ_AUDIT_QUEUE_WAIT_MS=0 means "do not wait"; audit reads a zero
	// wait as its default and a negative one as no wait.
	auditWait := cfg.AuditQueueWait
	if auditWait == 0 {
		auditWait = -1
	}
	s.audit = audit.New(st, auditObserver{m}, audit.Options{QueueSize: 1000, MaxBatch: 100, EnqueueWait: auditWait, Logger: log})
	pub, err := s.newBus(localPublisher{ix: s.Index, tracer: tracing.Tracer})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	pipeline := &ingest.Pipeline{
		Store: st, Policy: s.Access, Audit: s.audit, Publisher: pub,
		Metrics: m, Tracer: tracing.Tracer, Log: log, MaxAge: cfg.MaxEventAge, MaxFuture: cfg.MaxFuture,
	}
	s.ws = &ws.Handler{
		Log: log, Metrics: m, Tracer: tracing.Tracer, Ingest: pipeline, Index: s.Index, Store: st, Access: s.Access,
		RelayURL: cfg.RelayURL, MaxConnections: cfg.MaxConnections, MaxFrameBytes: cfg.MaxFrameBytes,
		SendBuffer: cfg.SendBuffer, SlowClientGrace: cfg.SlowClientGrace, AuthTimeout: cfg.AuthTimeout,
		PingInterval: cfg.PingInterval,
	}
	s.ws.Init()
	info := httpapi.NewInfo(cfg.RelayName, cfg.RelayDesc, nostr.PublicKeyHex(key), version, cfg.MaxFrameBytes,
		int64(cfg.MaxEventAge/time.Second), int64(cfg.MaxFuture/time.Second))
	// HTTP routes get request metrics and server spans; upgrades get
	// neither (httpapi routes them around the middleware).
	mw := func(action string, next http.Handler) http.Handler {
		return m.HTTPMiddleware(action, telemetry.HTTPHandler(tracing.Tracer, next))
	}
	// IdleTimeout: idle keep-alive connections are not counted by
	// BUZZ_MAX_CONNECTIONS, so they must not stay open for ever.
	s.httpSrv = &http.Server{Handler: httpapi.Routes(info, s.ws, mw), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	s.healthSrv = &http.Server{Handler: s.health.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	s.rpc = metricsrpc.NewServer(m, metricsrpc.NewIdentity())
	return s, nil
}

// localPublisher hands accepted events to this node's fan-out, under the
// fan-out child span of the message's trace.
type localPublisher struct {
	ix     *fanout.Index
	tracer trace.Tracer
}

func (p localPublisher) Publish(ctx context.Context, ev *nostr.Event) {
	ctx, span := p.tracer.Start(ctx, telemetry.SpanFanout)
	n := p.ix.Deliver(ctx, ev)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(telemetry.AttrEventID, ev.ID), attribute.Int("recipients", n))
	}
	span.End()
}

// Start binds the listeners and starts serving.
func (s *Server) Start() error {
	var err error
	if s.httpLn, err = net.Listen("tcp", s.cfg.BindAddr); err != nil {
		return fmt.Errorf("listen BUZZ_BIND_ADDR %s: %w", s.cfg.BindAddr, err)
	}
	if s.healthLn, err = net.Listen("tcp", s.cfg.HealthAddr); err != nil {
		_ = s.httpLn.Close()
		return fmt.Errorf("listen BUZZ_HEALTH_PORT %s: %w", s.cfg.HealthAddr, err)
	}
	rpcLn, err := metricsrpc.Listen(s.cfg.MetricsGRPC)
	if err != nil {
		_ = s.httpLn.Close()
		_ = s.healthLn.Close()
		return fmt.Errorf("listen BUZZ_METRICS_GRPC_ADDR %s: %w", s.cfg.MetricsGRPC, err)
	}
	s.rpcAddr = rpcLn.Addr().String()
	s.goBG(func() { s.audit.Run(s.bg) })
	s.goBG(func() {
		metricsrpc.RunPoolSampler(s.bg, s.Metrics, s.cfg.PoolMetricsEvery, func() (int64, int64, int64) {
			p := s.Store.PoolStats()
			return p.Size, p.Idle, p.Max
		}, s.redisPoolStats())
	})
	s.runBus()
	go serve(s.log, "ws", s.httpSrv, s.httpLn)
	go serve(s.log, "health", s.healthSrv, s.healthLn)
	go func() {
		if err := s.rpc.ServeListener(s.bg, rpcLn); err != nil {
			s.log.Error("metrics stream server stopped", "error", err)
		}
	}()
	s.health.SetReady(true)
	s.log.Info("relay listening", "ws_addr", s.httpLn.Addr().String(), "health_addr", s.healthLn.Addr().String(),
		"metrics_grpc_addr", s.rpcAddr, "relay_url", s.cfg.RelayURL, "store", s.storeKind())
	return nil
}

func (s *Server) storeKind() string {
	if s.cfg.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite"
}

func (s *Server) goBG(fn func()) {
	done := make(chan struct{})
	s.bgWait = append(s.bgWait, done)
	go func() { defer close(done); fn() }()
}

func serve(log *slog.Logger, name string, srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("server stopped", "server", name, "error", err)
	}
}

// Addr is the WebSocket/HTTP address actually bound.
func (s *Server) Addr() string { return s.httpLn.Addr().String() }

// HealthAddr is the health address actually bound.
func (s *Server) HealthAddr() string { return s.healthLn.Addr().String() }

// MetricsAddr is the metrics stream address actually bound.
func (s *Server) MetricsAddr() string { return s.rpcAddr }

// Abort releases what New opened when Start failed; nothing is serving and
// no background work has started, so there is nothing to drain.
func (s *Server) Abort() {
	s.stopBG()
	if err := s.closeBus(); err != nil {
		s.log.Warn("close redis", "error", err)
	}
	if err := s.Store.Close(); err != nil {
		s.log.Warn("close store", "error", err)
	}
}

// Shutdown runs spec §9's order. ctx bounds the whole sequence (the caller
// enforces the hard deadline); each step is logged so the order is visible.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	step := func(name string, attrs ...any) { s.log.Info("shutdown: "+name, attrs...) }

	s.health.Drain()
	s.ws.Drain()
	step("readiness 503, new upgrades refused")

	if s.cfg.DrainDelay > 0 {
		select {
		case <-time.After(s.cfg.DrainDelay):
		case <-ctx.Done():
		}
	}
	step("drain delay over", "delay", s.cfg.DrainDelay.String())

	_ = s.httpSrv.Shutdown(ctx)
	if err := s.ws.CloseAll(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close connections: %w", err))
	}
	step("listeners stopped, connections closed with 1012, handlers finished")

	if err := s.audit.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("drain audit queue: %w", err))
	}
	step("audit queue drained")

	if err := s.tracing.Shutdown(ctx); err != nil {
		s.log.Warn("tracer flush failed", "error", err)
	}
	step("tracer flushed")

	s.rpc.Stop()
	step("metrics stream closed")

	s.stopBG()
	for _, d := range s.bgWait {
		<-d
	}
	_ = s.healthSrv.Shutdown(ctx)
	if err := s.closeBus(); err != nil {
		errs = append(errs, fmt.Errorf("close redis: %w", err))
	}
	if err := s.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	step("pools closed")
	return errors.Join(errs...)
}
