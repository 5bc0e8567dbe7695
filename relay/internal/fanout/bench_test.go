package fanout

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// sink is a Subscriber whose queue always has room.
type sink struct {
	pubkey string
	sent   atomic.Int64
}

func (s *sink) Pubkey() string { return s.pubkey }

func (s *sink) Deliver(string, *nostr.Event, []byte) bool {
	s.sent.Add(1)
	return true
}

const benchMatching = 100

// benchIndex returns an index with total subscriptions of which exactly
// benchMatching match a kind-9 event in channel "target": the rest sit on
// 1000 other channels, or are global for other kinds.
func benchIndex(b *testing.B, total int) *Index {
	b.Helper()
	ix := NewIndex(allowAll{}, nil)
	for i := range benchMatching {
		s := &sink{pubkey: fmt.Sprint("match", i%20)}
		var f nostr.Filter
		switch i % 4 {
		case 0, 1:
			f = nostr.Filter{Tags: chans("target"), Kinds: kinds(9)}
		case 2:
			f = nostr.Filter{Tags: chans("target")}
		default:
			f = nostr.Filter{Kinds: kinds(9, 1)}
		}
		ix.Subscribe(s, fmt.Sprint("sub", i%10), []nostr.Filter{f})
	}
	for i := range total - benchMatching {
		s := &sink{pubkey: fmt.Sprint("other", i%1000)}
		var f nostr.Filter
		switch i % 10 {
		case 0:
			f = nostr.Filter{Kinds: kinds(7)} // global, another kind
		case 1:
			f = nostr.Filter{Tags: chans("target"), Kinds: kinds(7)} // same channel, another kind
		default:
			f = nostr.Filter{Tags: chans(fmt.Sprint("chan", i%1000)), Kinds: kinds(9)}
		}
		ix.Subscribe(s, "feed", []nostr.Filter{f})
	}
	return ix
}

func BenchmarkDeliver(b *testing.B) {
	ev := event(9, "target", 1)
	ev.Content = "a typical chat message of a few dozen bytes, give or take"
	for _, total := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprint("subs=", total), func(b *testing.B) {
			ix := benchIndex(b, total)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if n := ix.Deliver(ctx, ev); n != benchMatching {
					b.Fatalf("Deliver = %d, want %d", n, benchMatching)
				}
			}
		})
	}
}

// BenchmarkDeliverParallel measures concurrent deliveries while the index is
// read-locked only briefly.
func BenchmarkDeliverParallel(b *testing.B) {
	ev := event(9, "target", 1)
	ix := benchIndex(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if n := ix.Deliver(ctx, ev); n != benchMatching {
				b.Errorf("Deliver = %d, want %d", n, benchMatching)
				return
			}
		}
	})
}
