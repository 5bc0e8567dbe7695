package multinode

import (
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// BenchmarkCrossNodeLatency publishes b.N channel messages on node A at
// 1 000 events/s, spread over 50 open channels, to 500 subscribers split
// evenly between node A (same-node delivery) and node B (cross-node, through
// Redis); each subscriber follows one channel, so every event reaches 5
// subscribers on each node. Ten publisher connections share the load, as
// ingest is sequential per connection. It reports p50/p99 delivery latency, measured
// from just before the EVENT frame is written to when a subscriber reads it,
// for both paths in the same run, and the Redis hop alone (a cross-node
// arrival minus the first same-node arrival of that event). BUZZ_BENCH_RATE
// overrides the rate. Run with e.g. -benchtime=5000x.
func BenchmarkCrossNodeLatency(b *testing.B) {
	const (
		channels    = 50
		subscribers = 500
		publishers  = 10 // ingest is sequential per connection
	)
	rate := 1000
	if v, err := strconv.Atoi(os.Getenv("BUZZ_BENCH_RATE")); err == nil && v > 0 {
		rate = v // a lower rate shows unsaturated figures on a small machine
	}
	c := newCluster(b, relaytest.RedisURL())
	rc := c.redis()
	na, nb := c.start("a", nil), c.start("b", nil)

	author := relaytest.NewUser(b)
	pubs := make([]*client, publishers)
	for i := range pubs {
		pubs[i] = dial(b, na.URL, author)
	}
	chans := make([]string, channels)
	for i := range chans {
		chans[i] = pubs[0].createChannel("open")
	}

	n := b.N
	sentAt := make([]atomic.Int64, n)
	var mu sync.Mutex
	var same, cross []time.Duration
	type arrival struct {
		event int
		at    int64
	}
	var crossAt []arrival
	firstSame := make([]atomic.Int64, n) // earliest same-node arrival per event
	var delivered atomic.Int64
	for i := range subscribers {
		node, list := na, &same
		if i%2 == 1 {
			node, list = nb, &cross
		}
		cl := dial(b, node.URL, relaytest.NewUser(b))
		cl.onRecv = func(_ string, ev gonostr.Event) {
			now := time.Now().UnixNano()
			k, err := strconv.Atoi(ev.Content)
			if err != nil || k < 0 || k >= n {
				return
			}
			d := time.Duration(now - sentAt[k].Load())
			mu.Lock()
			*list = append(*list, d)
			if list == &cross {
				crossAt = append(crossAt, arrival{k, now})
			} else if f := firstSame[k].Load(); f == 0 || now < f {
				firstSame[k].Store(now)
			}
			mu.Unlock()
			delivered.Add(1)
		}
		cl.req("s", map[string]any{"#h": []string{chans[(i/2)%channels]}, "kinds": []int{9}, "limit": 0})
	}
	for _, ch := range chans {
		c.waitSubscribed(rc, "channel:"+ch, 2)
	}

	events := make([]gonostr.Event, n)
	for i := range events {
		events[i] = author.Event(b, 9, strconv.Itoa(i), gonostr.Tag{"h", chans[i%channels]})
	}
	oks := make([]<-chan okReply, n)

	b.ResetTimer()
	start := time.Now()
	for i := range events {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		sentAt[i].Store(time.Now().UnixNano())
		oks[i] = pubs[i%publishers].send(events[i])
	}
	want := int64(n * subscribers / channels)
	deadline := time.Now().Add(30 * time.Second)
	for delivered.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	elapsed := time.Since(start)

	refused := 0
	for _, ch := range oks {
		select {
		case r := <-ch:
			if !r.ok {
				refused++
			}
		case <-time.After(5 * time.Second):
			refused++
		}
	}
	if refused > 0 {
		b.Fatalf("%d of %d events not accepted", refused, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := delivered.Load(); got != want {
		b.Errorf("%d of %d deliveries arrived (same-node %d, cross-node %d)", got, want, len(same), len(cross))
	}
	pct := func(ds []time.Duration, p float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(same, 0.50), "same-p50-ms")
	b.ReportMetric(pct(same, 0.99), "same-p99-ms")
	b.ReportMetric(pct(cross, 0.50), "cross-p50-ms")
	b.ReportMetric(pct(cross, 0.99), "cross-p99-ms")
	// The Redis hop alone: each cross-node arrival against the first
	// same-node arrival of the same event, which takes the publishing
	// node's ingest queueing out of the comparison.
	var hop []time.Duration
	for _, a := range crossAt {
		if f := firstSame[a.event].Load(); f != 0 {
			hop = append(hop, time.Duration(a.at-f))
		}
	}
	b.ReportMetric(pct(hop, 0.50), "hop-p50-ms")
	b.ReportMetric(pct(hop, 0.99), "hop-p99-ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
	b.Logf("%d events, %d same-node and %d cross-node deliveries in %v", n, len(same), len(cross), elapsed.Round(time.Millisecond))
}
