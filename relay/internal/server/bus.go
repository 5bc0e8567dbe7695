package server

import (
	"context"

	redisbus "github.com/buzzrelay/buzz/relay/internal/bus/redis"
	"github.com/buzzrelay/buzz/relay/internal/ingest"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// newBus builds the Redis bus when REDIS_URL is set and wires it into the
// fan-out index (topic interest) and access control (invalidations). It
// returns the publisher ingest should use: local fan-out alone without Redis,
// local fan-out plus Redis with it.
func (s *Server) newBus(local localPublisher) (ingest.Publisher, error) {
	if s.cfg.RedisURL == "" {
		return local, nil
	}
	bus, err := redisbus.New(redisbus.Options{
		URL: s.cfg.RedisURL, PoolSize: s.cfg.RedisPoolSize, Namespace: s.cfg.RedisNamespace,
		Local: local, Caches: s.Access, Observer: busObserver{s.Metrics},
		Tracer: s.tracing.Tracer, Log: s.log,
	})
	if err != nil {
		return nil, err
	}
	s.bus = bus
	s.Access.SetPublisher(bus)
	s.Index.SetInterestHook(bus.Interest)
	return clusterPublisher{local: local, bus: bus}, nil
}

// clusterPublisher queues an event for the other nodes (never blocking) and
// delivers it to this node's subscribers.
type clusterPublisher struct {
	local localPublisher
	bus   *redisbus.Bus
}

func (p clusterPublisher) Publish(ctx context.Context, ev *nostr.Event) {
	p.bus.Publish(ctx, ev) // first: it only queues, and lets Redis work in parallel
	p.local.Publish(ctx, ev)
}

// redisPoolStats feeds the Redis pool gauges; nil without Redis, so the
// gauges stay absent.
func (s *Server) redisPoolStats() func() (int64, int64, int64, int64) {
	if s.bus == nil {
		return nil
	}
	return s.bus.PoolStats
}

// runBus runs the bus until the background context ends.
func (s *Server) runBus() {
	if s.bus != nil {
		s.goBG(func() { s.bus.Run(s.bg) })
	}
}

// closeBus closes the Redis pool; Run has returned by then.
func (s *Server) closeBus() error {
	if s.bus == nil {
		return nil
	}
	return s.bus.Close()
}

type busObserver struct{ m *metrics.Metrics }

func (o busObserver) Published()          { o.m.MultinodeFanout.Inc() }
func (o busObserver) FanoutLagged()       { o.m.MultinodeFanoutLag.Inc() }
func (o busObserver) InvalidationLagged() { o.m.CacheInvalidationLag.Inc() }
