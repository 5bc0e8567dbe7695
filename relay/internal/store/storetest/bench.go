package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// BenchInsert measures Save throughput with writers concurrent goroutines
// saving b.N distinct, pre-signed chat messages (kind 9 in one open
// channel, with e and p tags) and reports events/s.
func BenchInsert(b *testing.B, s store.Store, writers int) {
	ctx := b.Context()
	const channel = "0b9c7f6e-1d2a-4e3b-8c5d-bench0000001"
	admin := NewSigner("bench-admin")
	create := admin.Event(nostr.KindCreateChannel, base, "", []string{"h", channel}, []string{"name", "bench"})
	if err := s.Save(ctx, create, createChange(create, channel, store.Open)); err != nil {
		b.Fatalf("create channel: %v", err)
	}
	signers := make([]*Signer, writers)
	for i := range signers {
		signers[i] = NewSigner(fmt.Sprintf("bench-writer-%d", i))
	}
	evs := make([]*nostr.Event, b.N)
	for i := range evs {
		sg := signers[i%writers]
		evs[i] = sg.Event(nostr.KindChatMessage, base+int64(i), fmt.Sprintf("message %d", i),
			[]string{"h", channel}, []string{"e", create.ID}, []string{"p", admin.PubKey})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(evs)) {
					return
				}
				if err := s.Save(ctx, evs[i], nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatalf("save: %v", err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}
