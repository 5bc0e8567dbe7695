package stream

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/testrelay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReconnectsAfterRelayRestart(t *testing.T) {
	relay, err := testrelay.Start(10 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	addr := relay.Addr()
	relay.Set(&metricsv1.MetricFamily{Name: "a_total", Type: metricsv1.MetricType_METRIC_TYPE_COUNTER, Series: []*metricsv1.Series{{Value: 3}}})
	st := state.New(0)
	c := New(addr, st, WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))), WithBackoff(5*time.Millisecond, 20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	waitFor(t, "connected", func() bool { return c.Connected() && st.Stats().Series == 1 })
	relay.Stop()
	waitFor(t, "disconnected", func() bool { return !c.Connected() })

	relay2, err := testrelay.StartAt(addr, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer relay2.Stop()
	relay2.Restart("relay-2")
	relay2.Set(&metricsv1.MetricFamily{Name: "b_total", Type: metricsv1.MetricType_METRIC_TYPE_COUNTER, Series: []*metricsv1.Series{{Value: 1}}})
	waitFor(t, "reconnected to the new relay", func() bool { return c.Connected() && st.Stats().InstanceID == "relay-2" })
	if c.Reconnects() == 0 {
		t.Fatal("reconnects not counted")
	}
	waitFor(t, "new series", func() bool { return st.Stats().Series == 1 && st.Stats().IdentityChanges == 1 })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
