package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/audit"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

func BenchmarkLink(b *testing.B) {
	e := sampleEntry()
	prev := audit.Link(nil, &e)
	b.ReportAllocs()
	for b.Loop() {
		prev = audit.Link(prev, &e)
	}
}

// benchRecord measures end-to-end throughput: b.N entries recorded from
// parallel goroutines and all of them durably written (Close waits).
func benchRecord(b *testing.B, st store.Audit) {
	obs := &counters{}
	l := audit.New(st, obs, audit.Options{})
	startLog(b, l)
	ev := &nostr.Event{ID: hexID(1, 1), PubKey: hexID(2, 2), Kind: 9}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Record(ctx, audit.EventStored(ev.PubKey, ev, "chan")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	closeLog(b, l)
	elapsed := time.Since(start)
	b.StopTimer()
	if obs.batches.Load() > 0 {
		b.ReportMetric(float64(obs.written.Load())/float64(obs.batches.Load()), "entries/batch")
	}
	b.ReportMetric(float64(obs.written.Load())/elapsed.Seconds(), "entries/s")
}

func BenchmarkRecordSQLite(b *testing.B) {
	benchRecord(b, sqliteBackend(b).st)
}

func BenchmarkRecordPostgres(b *testing.B) {
	benchRecord(b, postgresBackend(b).st)
}
