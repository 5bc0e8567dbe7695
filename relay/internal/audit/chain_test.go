package audit_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/audit"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlite"
)

func sampleEntry() store.AuditEntry {
	return store.AuditEntry{
		Time:    time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC),
		Actor:   strings.Repeat("a", 64),
		Action:  audit.ActionEventStored,
		EventID: strings.Repeat("b", 64),
		Kind:    9,
		Channel: "5f0c3a0e-8a51-4a39-9d5f-7d0b1c7a2e11",
		Detail:  `{"author":"x"}`,
	}
}

// TestLinkGolden pins the canonical encoding: changing it silently would
// make every existing chain fail verification. The expected value was
// computed independently (Python hashlib/struct) from the encoding as
// documented at Link.
func TestLinkGolden(t *testing.T) {
	e := sampleEntry()
	got := hex.EncodeToString(audit.Link(nil, &e))
	const want = "6b4b9e778b6a4be121e871718eb9bc68754b63ddef17a68f4aa29c9ba7c5e5db"
	if got != want {
		t.Fatalf("Link(nil, sample) = %s, want %s", got, want)
	}
}

func TestLinkCoversEveryField(t *testing.T) {
	base := sampleEntry()
	prev := audit.Link(nil, &base)
	h0 := audit.Link(prev, &base)
	changes := map[string]func(e *store.AuditEntry){
		"time":    func(e *store.AuditEntry) { e.Time = e.Time.Add(time.Microsecond) },
		"actor":   func(e *store.AuditEntry) { e.Actor += "0" },
		"action":  func(e *store.AuditEntry) { e.Action = "membership.add" },
		"event":   func(e *store.AuditEntry) { e.EventID = "" },
		"kind":    func(e *store.AuditEntry) { e.Kind = -9 },
		"channel": func(e *store.AuditEntry) { e.Channel = "" },
		"detail":  func(e *store.AuditEntry) { e.Detail += " " },
		// Length prefixes keep field boundaries: moving a byte from one
		// field to the next must change the hash.
		"boundary": func(e *store.AuditEntry) { e.Actor, e.Action = e.Actor+e.Action[:1], e.Action[1:] },
	}
	for name, change := range changes {
		e := base
		change(&e)
		if h := audit.Link(prev, &e); string(h) == string(h0) {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
	if h := audit.Link(nil, &base); string(h) == string(h0) {
		t.Error("prev is not part of the hash")
	}
	// Neither Seq, the stored hashes, the time zone nor sub-microsecond
	// time are part of the content.
	e := base
	e.Seq, e.PrevHash, e.Hash = 99, []byte{1}, []byte{2}
	e.Time = e.Time.In(time.FixedZone("x", 3600)).Add(999 * time.Nanosecond)
	if h := audit.Link(prev, &e); string(h) != string(h0) {
		t.Error("hash depends on Seq, stored hashes, zone or nanoseconds")
	}
}

// recordMany records n event entries from several goroutines, tagging
// event ids with writer so several logs' entries stay distinct.
func recordMany(t testing.TB, l *audit.Log, writer, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				ev := &nostr.Event{ID: hexID(writer, i), PubKey: hexID(99, 0), Kind: 1 + i%3}
				if err := l.Record(ctx, audit.EventStored(hexID(99, 0), ev, "")); err != nil {
					t.Errorf("Record %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
}

func closeLog(t testing.TB, l *audit.Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func verifyIntact(t testing.TB, st store.Audit, want int64) {
	t.Helper()
	checked, brk, err := audit.Verify(context.Background(), st)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if brk != nil {
		t.Fatalf("Verify: unexpected break: %v", brk)
	}
	if checked != want {
		t.Fatalf("Verify checked %d entries, want %d", checked, want)
	}
}

// TestChain writes a long chain in many batches, verifies it, then tampers
// with single rows in several ways and checks Verify names exactly the
// altered entry.
func TestChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		obs := &counters{}
		l := audit.New(b.st, obs, audit.Options{MaxBatch: 16})
		startLog(t, l)
		const n = 600
		recordMany(t, l, 1, n)
		l.Record(ctx, audit.MembershipChanged(hexID(98, 0), "chan-1", hexID(97, 0), "add"))
		l.Record(ctx, audit.AllowlistChanged("operator", hexID(96, 0), "remove"))
		closeLog(t, l)
		if got := obs.written.Load(); got != n+2 {
			t.Fatalf("observer saw %d entries written, want %d", got, n+2)
		}
		if obs.batches.Load() >= n {
			t.Errorf("%d batches for %d entries: writer did not batch", obs.batches.Load(), n)
		}
		verifyIntact(t, b.st, n+2)

		all := readAll(t, b.st)
		seen := map[string]bool{}
		for i, e := range all {
			if i > 0 && e.Seq <= all[i-1].Seq {
				t.Fatalf("seq %d after %d", e.Seq, all[i-1].Seq)
			}
			if e.Action == audit.ActionEventStored {
				seen[e.EventID] = true
			}
		}
		if len(seen) != n {
			t.Fatalf("%d distinct events in the chain, want %d", len(seen), n)
		}
		last := all[len(all)-1]
		if last.Action != "allowlist.remove" || last.Detail != `{"pubkey":"`+hexID(96, 0)+`"}` || last.Actor != "operator" {
			t.Fatalf("last entry = %+v", last)
		}

		tamper := func(sql string, seq int64) {
			t.Helper()
			if err := b.exec(ctx, fmt.Sprintf(sql, seq)); err != nil {
				t.Fatalf("tamper %q: %v", sql, err)
			}
		}
		expectBreak := func(seq int64, reason string) {
			t.Helper()
			checked, brk, err := audit.Verify(ctx, b.st)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if brk == nil {
				t.Fatalf("tampering at seq %d not detected", seq)
			}
			if brk.Seq != seq || !strings.Contains(brk.Reason, reason) {
				t.Fatalf("Verify = break at %d (%s), want at %d (%s)", brk.Seq, brk.Reason, seq, reason)
			}
			if checked < 1 {
				t.Fatalf("checked = %d before the break", checked)
			}
		}

		// Altered content, caught at the altered row; put back afterwards
		// so the next tampering is the first break.
		s1 := all[123].Seq
		tamper("UPDATE audit_log SET detail = 'nothing to see' WHERE seq = %d", s1)
		expectBreak(s1, "altered")
		tamper("UPDATE audit_log SET detail = '' WHERE seq = %d", s1)
		verifyIntact(t, b.st, n+2)

		// Altered kind: caught at that row as well.
		s2 := all[45].Seq
		tamper("UPDATE audit_log SET kind = kind + 1 WHERE seq = %d", s2)
		expectBreak(s2, "altered")
		tamper("UPDATE audit_log SET kind = kind - 1 WHERE seq = %d", s2)
		verifyIntact(t, b.st, n+2)

		// A removed row: the next row's previous hash no longer matches.
		s3 := all[300].Seq
		tamper("DELETE FROM audit_log WHERE seq = %d", s3)
		expectBreak(all[301].Seq, "removed")

		// An earlier altered hash is the first break now.
		s4 := all[10].Seq
		tamper("UPDATE audit_log SET hash = prev_hash WHERE seq = %d", s4)
		expectBreak(s4, "altered")
	})
}

// TestTimeRoundTrip checks that sub-microsecond and non-UTC times survive
// the database round trip in a form that still verifies.
func TestTimeRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		l := audit.New(b.st, nil, audit.Options{})
		startLog(t, l)
		at := time.Date(2031, 12, 31, 23, 59, 59, 999999999, time.FixedZone("east", 5*3600))
		e := audit.AllowlistChanged("op", hexID(1, 1), "add")
		e.Time = at
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		// NUL bytes and invalid UTF-8 would be refused by PostgreSQL text
		// and stall the writer; Record makes them storable.
		bad := audit.MembershipChanged("op\x00x", "c\xffd", "t", "add")
		if err := l.Record(context.Background(), bad); err != nil {
			t.Fatal(err)
		}
		closeLog(t, l)
		verifyIntact(t, b.st, 2)
		got := readAll(t, b.st)
		want := at.UTC().Truncate(time.Microsecond)
		if !got[0].Time.Equal(want) {
			t.Fatalf("time read back %v, want %v", got[0].Time, want)
		}
		if got[1].Actor != "op\uFFFDx" || got[1].Channel != "c\uFFFDd" {
			t.Fatalf("cleaned fields read back %q %q", got[1].Actor, got[1].Channel)
		}
	})
}

// TestMultiWriterPostgres: two relay processes (two Logs over two separate
// pools) append to one schema at once and must produce one unbroken chain
// holding every entry exactly once.
func TestMultiWriterPostgres(t *testing.T) {
	schema := relaytest.RandomName("audit_test_")
	st1 := openPostgres(t, schema)
	st2, err := postgresOpenNoDrop(schema)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	multiWriter(t, st1, st2)
}

// TestMultiWriterSQLite: the same with two handles on one database file.
func TestMultiWriterSQLite(t *testing.T) {
	dir := t.TempDir()
	var sts [2]store.Audit
	for i := range sts {
		st, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		sts[i] = st
	}
	multiWriter(t, sts[0], sts[1])
}

func multiWriter(t *testing.T, st1, st2 store.Audit) {
	const n = 500
	obs := &counters{}
	logs := []*audit.Log{
		audit.New(st1, obs, audit.Options{MaxBatch: 8}),
		audit.New(st2, obs, audit.Options{MaxBatch: 5}),
	}
	var wg sync.WaitGroup
	for w, l := range logs {
		startLog(t, l)
		wg.Go(func() { recordMany(t, l, w+1, n) })
	}
	wg.Wait()
	for _, l := range logs {
		closeLog(t, l)
	}
	verifyIntact(t, st1, 2*n)
	// The database serialises the writers: neither should ever have lost
	// a race for the next sequence number and had to retry.
	if f := obs.writeFailed.Load(); f != 0 {
		t.Fatalf("%d write failures with two writers: appends are not serialised", f)
	}
	counts := map[string]int{}
	for _, e := range readAll(t, st2) {
		counts[e.EventID]++
	}
	for w := 1; w <= 2; w++ {
		for i := range n {
			if c := counts[hexID(w, i)]; c != 1 {
				t.Fatalf("event %d of writer %d appears %d times", i, w, c)
			}
		}
	}
}
