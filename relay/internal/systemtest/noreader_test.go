package systemtest

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/relaytest/proctest"
)

// Bounds for comparing two phases of equal load on one relay. They are
// loose because the phases share two CPU cores with everything else on the
// machine; a recorder that blocked on its reader or buffered what nobody
// read would miss them by far more (no OK at all, or memory growing with
// every event).
const (
	rateFactor   = 3.0 // a phase's rate is at least the reference's / rateFactor
	p99Factor    = 4.0 // ... and its p99 latency at most the reference's * p99Factor
	p99Floor     = 50 * time.Millisecond
	rssGrowthMax = 4 << 10 // kB between two equal phases once warm
	publishers   = 8
	perPhase     = 1000 // events per publisher per phase
)

// The phases publish ephemeral events: they take every recording path of
// ingest (received, processing time, fan-out) without the embedded store's
// fsync, whose latency spikes would drown what is measured here. Stored
// events are counted in the golden and restart tests.
const phaseKind = 20001

// phase publishes one batch and logs what it measured.
func phase(t *testing.T, l *load, name string, r *proctest.Relay) (result, int64) {
	t.Helper()
	res := l.publish(t, l.sign(t, phaseKind, perPhase, name))
	if res.accepted != publishers*perPhase {
		t.Fatalf("%s: %d of %d events accepted", name, res.accepted, publishers*perPhase)
	}
	rss := rssKB(t, r.Proc)
	t.Logf("%-22s %5.0f events/s  p50 %-10v p99 %-10v rss %d kB", name, res.rate(),
		res.quantile(0.5).Round(time.Microsecond), res.quantile(0.99).Round(time.Microsecond), rss)
	return res, rss
}

// compare fails unless got kept up with ref.
func compare(t *testing.T, what string, ref, got result) {
	t.Helper()
	if got.rate() < ref.rate()/rateFactor {
		t.Errorf("%s: %.0f events/s, reference %.0f", what, got.rate(), ref.rate())
	}
	if limit := max(time.Duration(float64(ref.quantile(0.99))*p99Factor), p99Floor); got.quantile(0.99) > limit {
		t.Errorf("%s: p99 %v, limit %v (reference %v)", what, got.quantile(0.99), limit, ref.quantile(0.99))
	}
}

// TestNoSidecarRunsAsWell: with nothing connected to its metrics port the
// relay ingests at full speed, every event gets its OK, and memory does not
// grow from one phase to the next; then a sidecar connects and the same
// load runs as fast, and the sidecar's count agrees with the clients'.
func TestNoSidecarRunsAsWell(t *testing.T) {
	r := startRelay(t, nil)
	if c, err := net.DialTimeout("tcp", r.MetricsGRPC, time.Second); err != nil {
		t.Fatalf("metrics port not listening: %v", err)
	} else {
		c.Close() // listening, and nobody is reading from it
	}
	l := newLoad(t, r.URL, publishers)
	phase(t, l, "warm-up", r)
	a, rssA := phase(t, l, "no sidecar, phase 1", r)
	b, rssB := phase(t, l, "no sidecar, phase 2", r)
	if rssB-rssA > rssGrowthMax {
		t.Errorf("RSS grew %d kB between two equal phases with no sidecar (limit %d kB)", rssB-rssA, rssGrowthMax)
	}
	compare(t, "no sidecar, phase 2", a, b)

	s := startSidecar(t, r.MetricsGRPC)
	s.waitScrape("the sidecar to connect", func(sc *scrape) bool { return sc.total("buzz_events_received_total") > 0 })
	c, _ := phase(t, l, "sidecar connected", r)
	// Either way round: a relay slowed by an absent reader would show here.
	compare(t, "sidecar connected", b, c)
	compare(t, "no sidecar, against the connected phase", c, b)
	total := float64(4 * publishers * perPhase)
	s.waitScrape(fmt.Sprintf("received = %v", total), func(sc *scrape) bool {
		v, _ := sc.value("buzz_events_received_total", fmt.Sprintf("kind=%d", phaseKind))
		return v == total
	})
}

// TestFrozenSidecarNeverBlocksRecording: a sidecar stopped with SIGSTOP is
// a reader that never reads. The relay's handlers go on at the rate they
// had with the sidecar reading, and after SIGCONT the sidecar catches up.
//
// The relay sends about one small message a second, so a few seconds of a
// frozen reader fill no flow-control window; this proves the relay does not
// wait for its reader between messages (it never did), while package
// metricsrpc's own tests cover a stream whose Send is blocked.
func TestFrozenSidecarNeverBlocksRecording(t *testing.T) {
	r := startRelay(t, nil)
	s := startSidecar(t, r.MetricsGRPC)
	l := newLoad(t, r.URL, publishers)
	phase(t, l, "warm-up", r)
	s.waitScrape("the warm-up", func(sc *scrape) bool {
		v, _ := sc.value("buzz_events_received_total", fmt.Sprintf("kind=%d", phaseKind))
		return v == publishers*perPhase
	})
	reading, _ := phase(t, l, "sidecar reading", r)

	s.Signal(syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			s.Signal(syscall.SIGCONT)
		}
	}()
	frozen, _ := phase(t, l, "sidecar frozen", r)
	compare(t, "sidecar frozen", reading, frozen)
	// Even the relay's own HTTP API answers while the reader is frozen.
	infoGet(t, r.HTTP+"/info", "frozen-check")

	s.Signal(syscall.SIGCONT)
	stopped = false
	total := float64(3 * publishers * perPhase)
	s.waitScrape("the thawed sidecar to catch up", func(sc *scrape) bool {
		v, _ := sc.value("buzz_events_received_total", fmt.Sprintf("kind=%d", phaseKind))
		return v == total
	})
	if code := s.ready(); code != http.StatusOK {
		t.Errorf("/readyz after the thaw: %d", code)
	}
}
