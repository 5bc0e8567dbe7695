package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/audit"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/auditlink"
)

var errLostAck = errors.New("connection reset during COMMIT (test)")

// lostAck lets the first AppendAudit reach the real store and commit, then
// reports an error, as when the database committed but its answer never
// arrived.
type lostAck struct {
	store.Audit
	mu    sync.Mutex
	calls int
}

func (l *lostAck) AppendAudit(ctx context.Context, es []store.AuditEntry, link func([]byte, *store.AuditEntry) []byte) error {
	l.mu.Lock()
	l.calls++
	first := l.calls == 1
	l.mu.Unlock()
	err := l.Audit.AppendAudit(ctx, es, link)
	if first && err == nil {
		return errLostAck
	}
	return err
}

// linkedThenFailed makes the first AppendAudit link the entries the way a
// store does (Seq and Hash filled into the caller's slice) and then fail
// without committing, as when an INSERT fails. With foreign set, another
// writer's entry takes that seq before the retry comes.
type linkedThenFailed struct {
	store.Audit
	foreign bool
	mu      sync.Mutex
	calls   int
}

func (f *linkedThenFailed) AppendAudit(ctx context.Context, es []store.AuditEntry, link func([]byte, *store.AuditEntry) []byte) error {
	f.mu.Lock()
	f.calls++
	first := f.calls == 1
	f.mu.Unlock()
	if !first {
		return f.Audit.AppendAudit(ctx, es, link)
	}
	var seq int64
	prev := []byte{}
	if err := f.Audit.AuditEntries(ctx, func(e store.AuditEntry) error {
		seq, prev = e.Seq, e.Hash
		return nil
	}); err != nil {
		return err
	}
	auditlink.Apply(es, seq, prev, time.Now(), link)
	if f.foreign {
		other := []store.AuditEntry{audit.AllowlistChanged("other-process", hexID(60, 0), "add")}
		if err := f.Audit.AppendAudit(ctx, other, link); err != nil {
			return err
		}
		if other[0].Seq != es[0].Seq {
			return errors.New("test setup: foreign entry did not take the retried seq")
		}
	}
	return errFlaky
}

// checkOncePerEvent asserts the chain holds each of writer's n event ids
// exactly once and extra other entries.
func checkOncePerEvent(t *testing.T, st store.Audit, writer, n, extra int) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range readAll(t, st) {
		seen[e.EventID]++
	}
	for i := range n {
		if c := seen[hexID(writer, i)]; c != 1 {
			t.Errorf("event %d stored %d times, want once", i, c)
		}
	}
	verifyIntact(t, st, int64(n+extra))
}

// TestRetryAfterLostAck: a batch that committed but whose acknowledgement
// was lost must not be stored a second time by the retry.
func TestRetryAfterLostAck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		w := &lostAck{Audit: b.st}
		obs := &counters{}
		l := audit.New(w, obs, audit.Options{MaxBatch: 10, Logger: jsonLogger(&syncBuffer{})})
		const n = 25
		recordMany(t, l, 21, n) // queued before the writer starts: batches of 10
		startLog(t, l)
		closeLog(t, l)
		checkOncePerEvent(t, b.st, 21, n, 0)
		if got := obs.writeFailed.Load(); got != 1 {
			t.Fatalf("WriteFailed counted %d, want 1", got)
		}
		if got := obs.written.Load(); got != n {
			t.Fatalf("observer saw %d written, want %d", got, n)
		}
	})
}

// TestRetryAfterFailedLink: an attempt that linked the batch but committed
// nothing leaves Seq and Hash in the entries; the retry must still write
// the batch, also when another writer has taken that seq meanwhile.
func TestRetryAfterFailedLink(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		name := "seq free"
		if foreign {
			name = "seq taken"
		}
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b backend) {
				w := &linkedThenFailed{Audit: b.st, foreign: foreign}
				obs := &counters{}
				l := audit.New(w, obs, audit.Options{MaxBatch: 10, Logger: jsonLogger(&syncBuffer{})})
				const n = 25
				recordMany(t, l, 22, n)
				startLog(t, l)
				closeLog(t, l)
				extra := 0
				if foreign {
					extra = 1
				}
				checkOncePerEvent(t, b.st, 22, n, extra)
				if got := obs.writeFailed.Load(); got != 1 {
					t.Fatalf("WriteFailed counted %d, want 1", got)
				}
			})
		})
	}
}

// TestAppendAuditRetryContract drives the store contract directly: the
// same slice passed again after a committed append inserts nothing.
func TestAppendAuditRetryContract(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		es := []store.AuditEntry{
			audit.AllowlistChanged("op", hexID(30, 1), "add"),
			audit.AllowlistChanged("op", hexID(30, 2), "add"),
		}
		if err := b.st.AppendAudit(ctx, es, audit.Link); err != nil {
			t.Fatal(err)
		}
		seq, hash := es[1].Seq, es[1].Hash
		if err := b.st.AppendAudit(ctx, es, audit.Link); err != nil {
			t.Fatal(err)
		}
		if es[1].Seq != seq || string(es[1].Hash) != string(hash) {
			t.Fatalf("retry relinked the entries: seq %d -> %d", seq, es[1].Seq)
		}
		verifyIntact(t, b.st, 2)
		// Fresh entries with the same content are new entries.
		again := []store.AuditEntry{es[0], es[1]}
		for i := range again {
			again[i].Seq, again[i].Hash, again[i].PrevHash = 0, nil, nil
		}
		if err := b.st.AppendAudit(ctx, again, audit.Link); err != nil {
			t.Fatal(err)
		}
		verifyIntact(t, b.st, 4)
	})
}
