package systemtest

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// background publishes kind-1 events from n clients until stop is called,
// which returns how many were accepted.
func background(t *testing.T, url string, n int) (stop func() int) {
	t.Helper()
	l := newLoad(t, url, n)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i, c := range l.clients {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-done:
					return
				default:
				}
				ok, _, err := c.Publish(l.users[i].Event(t, 1, fmt.Sprintf("background %d", seq)))
				if err != nil {
					t.Errorf("background publisher %d: %v", i, err)
					return
				}
				if ok {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			}
		})
	}
	return func() int {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return accepted
	}
}

// monotonicWatch remembers the highest value of every monotonic sample
// seen and reports any scrape that shows less.
type monotonicWatch struct {
	t        *testing.T
	seen     map[string]float64
	reported map[string]bool // each regression is reported once
}

func (w *monotonicWatch) check(sc *scrape, when string) {
	w.t.Helper()
	for k, v := range sc.monotonic() {
		if old, ok := w.seen[k]; ok && v < old && !w.reported[k] {
			w.t.Errorf("%s: %s went down from %v to %v", when, k, old, v)
			w.reported[k] = true
		}
		if v > w.seen[k] {
			w.seen[k] = v
		}
	}
}

// TestSidecarRestartUnderTraffic: killing the sidecar and starting a new
// one while events flow loses nothing; no counter or histogram sample on
// /metrics ever goes down, before, across and after the restart.
func TestSidecarRestartUnderTraffic(t *testing.T) {
	r := startRelay(t, nil)
	s := startSidecar(t, r.MetricsGRPC)
	stop := background(t, r.URL, 4)
	w := &monotonicWatch{t: t, seen: map[string]float64{}, reported: map[string]bool{}}
	s.waitScrape("traffic", func(sc *scrape) bool { v, _ := sc.value("buzz_events_received_total", "kind=1"); return v > 0 })
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		w.check(s.scrape(), "before the restart")
	}
	before := s.scrape()
	w.check(before, "before the restart")
	received, _ := before.value("buzz_events_received_total", "kind=1")

	s.Kill()
	time.Sleep(300 * time.Millisecond) // traffic goes on with no sidecar
	s.start()
	// The new process serves on the same port; every sample it shows is at
	// least what the old one showed, and the traffic goes on counting.
	scrapes := 0
	after := s.waitScrape("the new sidecar to catch up", func(sc *scrape) bool {
		scrapes++
		w.check(sc, "after the restart")
		v, _ := sc.value("buzz_events_received_total", "kind=1")
		return v > received
	})
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		w.check(s.scrape(), "after the restart")
	}
	accepted := stop()
	for k := range before.monotonic() {
		if _, ok := after.monotonic()[k]; !ok {
			t.Errorf("%s was on /metrics before the sidecar restart and is gone after it", k)
		}
	}
	// Once traffic stops, the total agrees with what clients were told.
	final := s.waitScrape("the final count", func(sc *scrape) bool {
		v, _ := sc.value("buzz_events_stored_total", "kind=1")
		return int(v) == accepted
	})
	w.check(final, "at the end")
	t.Logf("%d events accepted; %d scrapes until the new sidecar caught up", accepted, scrapes)
}

// TestRelayAbsentThenRestarted: while the relay is gone the sidecar serves
// the last values it had and reports not ready; a new relay process is a
// counter reset (values drop to the new process's, its predecessor's
// series disappear).
func TestRelayAbsentThenRestarted(t *testing.T) {
	r := startRelay(t, nil)
	s := startSidecar(t, r.MetricsGRPC)
	old := newLoad(t, r.URL, 2)
	res := old.publish(t, [][]gonostr.Event{
		signBatch(t, old.users[0], 1, 30, "old"),
		signBatch(t, old.users[1], 7, 10, "old reactions"),
	})
	if res.accepted != 40 {
		t.Fatalf("old process accepted %d of 40", res.accepted)
	}
	last := s.waitScrape("the old process's traffic", func(sc *scrape) bool {
		v1, _ := sc.value("buzz_events_stored_total", "kind=1")
		v7, _ := sc.value("buzz_events_stored_total", "kind=7")
		return v1 == 30 && v7 == 10
	})
	if code := s.ready(); code != http.StatusOK {
		t.Errorf("/readyz with the relay up: %d", code)
	}

	r.Kill()
	relaytest.WaitFor(t, 10*time.Second, "/readyz to answer 503 after the relay died", func() bool {
		return s.ready() == http.StatusServiceUnavailable
	})
	if v := selfMetric(t, s, "buzz_sidecar_relay_connected"); v != 0 {
		t.Errorf("buzz_sidecar_relay_connected = %v with the relay gone", v)
	}
	// The last values stay, unchanged, for as long as the relay is away.
	want := last.monotonic()
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		got := s.scrape()
		for k, v := range want {
			if got.monotonic()[k] != v {
				t.Errorf("relay away: %s = %v, want the last value %v", k, got.monotonic()[k], v)
			}
		}
		if _, ok := got.value("buzz_ws_connections_active"); !ok {
			t.Error("relay away: gauges are gone from /metrics")
		}
		if s.ready() != http.StatusServiceUnavailable {
			t.Error("relay away: /readyz reports ready")
		}
	}

	// A new relay process on the same addresses and data.
	r.Restart()
	fresh := newLoad(t, r.URL, 1)
	if res := fresh.publish(t, [][]gonostr.Event{signBatch(t, fresh.users[0], 1, 5, "new")}); res.accepted != 5 {
		t.Fatalf("new process accepted %d of 5", res.accepted)
	}
	sc := s.waitScrape("the new process's values", func(sc *scrape) bool {
		v1, _ := sc.value("buzz_events_stored_total", "kind=1")
		conns, _ := sc.value("buzz_ws_connections_total")
		return v1 == 5 && conns == 1
	})
	for _, k := range []string{"kind=7"} {
		for _, name := range []string{"buzz_events_stored_total", "buzz_events_received_total"} {
			if v, ok := sc.value(name, k); ok {
				t.Errorf("%s{%s} = %v: a series only the old process had is still shown", name, k, v)
			}
		}
	}
	if v, _ := sc.value("buzz_auth_attempts_total", "method=nip42"); v != 1 {
		t.Errorf("buzz_auth_attempts_total after the relay restart = %v, want the new process's 1", v)
	}
	relaytest.WaitFor(t, 10*time.Second, "/readyz to answer 200 after the relay came back", func() bool {
		return s.ready() == http.StatusOK
	})
	if v := selfMetric(t, s, "buzz_sidecar_relay_restarts_total"); v != 1 {
		t.Errorf("buzz_sidecar_relay_restarts_total = %v, want 1", v)
	}
}

// selfMetric reads an unlabelled sample from the sidecar's own metrics
// path.
func selfMetric(t *testing.T, s *sidecarProc, name string) float64 {
	t.Helper()
	_, body, err := s.get("/sidecar/metrics", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s on /sidecar/metrics:\n%s", name, body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
