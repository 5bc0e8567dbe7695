package metricsrpc

import (
	"context"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/metrics"
)

// RunPoolSampler samples the connection pools into m now and then every
// interval until ctx ends. A non-positive interval means one second (config
// clamps it already; this only keeps a typo from spinning or crashing). A nil
// db or redis leaves that pool's gauges unset, so they stay absent from
// /metrics instead of reporting zeros. Active database connections are
// size - idle.
func RunPoolSampler(ctx context.Context, m *metrics.Metrics, interval time.Duration,
	db func() (size, idle, max int64), redis func() (size, idle, max, waiting int64)) {
	if interval <= 0 {
		interval = time.Second
	}
	sample := func() {
		if db != nil {
			size, idle, max := db()
			m.DBPoolSize.Set(size)
			m.DBPoolIdle.Set(idle)
			m.DBPoolActive.Set(size - idle)
			m.DBPoolMax.Set(max)
		}
		if redis != nil {
			size, idle, max, waiting := redis()
			m.RedisPoolSize.Set(size)
			m.RedisPoolAvailable.Set(idle)
			m.RedisPoolMax.Set(max)
			m.RedisPoolWaiting.Set(waiting)
		}
	}
	sample()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sample()
		}
	}
}
