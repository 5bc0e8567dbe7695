package server

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// BenchmarkLiveDelivery1000 publishes events to 1 000 live subscribers on
// real sockets and reports delivered events per second and the latency from
// publish to receipt (p50, p99) across all deliveries.
//
//	go test -run '^$' -bench LiveDelivery -benchtime 200x ./internal/server/
func BenchmarkLiveDelivery1000(b *testing.B) {
	const subscribers = 1000
	r := startRelay(b, "sqlite", map[string]string{"BUZZ_MAX_CONNECTIONS": "2000"})
	var (
		sent    sync.Map // event id -> time.Time
		mu      sync.Mutex
		lats    []time.Duration
		arrived atomic.Int64
	)
	for i := 0; i < subscribers; i++ {
		c, err := relaytest.DialRaw(r.URL, newUser(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		if err := c.WS.WriteMessage(1, []byte(`["REQ","live",{"kinds":[20001]}]`)); err != nil {
			b.Fatal(err)
		}
		if m, err := c.Next(10 * time.Second); err != nil || m[0] != "EOSE" {
			b.Fatalf("subscribe: %v %v", m, err)
		}
		go func() {
			for {
				_ = c.WS.SetReadDeadline(time.Time{})
				_, data, err := c.WS.ReadMessage()
				if err != nil {
					return
				}
				// The client does as little as it can: it shares the two
				// cores with the relay, so full parsing would be measured too.
				i := bytes.Index(data, []byte(`"id":"`))
				if !bytes.HasPrefix(data, []byte(`["EVENT"`)) || i < 0 || len(data) < i+6+64 {
					continue
				}
				if at, ok := sent.Load(string(data[i+6 : i+6+64])); ok {
					d := time.Since(at.(time.Time))
					mu.Lock()
					lats = append(lats, d)
					mu.Unlock()
					arrived.Add(1)
				}
			}
		}()
	}
	author := newUser(b)
	pub, err := relaytest.DialRaw(r.URL, author)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pub.Close() })

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		ev := author.Event(b, 20001, fmt.Sprint("tick ", i))
		sent.Store(ev.ID, time.Now())
		if ok, msg, err := pub.Publish(ev); err != nil || !ok {
			b.Fatalf("publish: %v %q", err, msg)
		}
	}
	want := int64(b.N) * subscribers
	deadline := time.Now().Add(60 * time.Second)
	for arrived.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := arrived.Load(); got != want {
		b.Fatalf("%d of %d deliveries arrived", got, want)
	}
	mu.Lock()
	slices.Sort(lats)
	p50, p99 := lats[len(lats)/2], lats[len(lats)*99/100]
	mu.Unlock()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}
