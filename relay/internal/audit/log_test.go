package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/audit"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

func eventEntry(i int) (ev *nostr.Event, actor string) {
	return &nostr.Event{ID: hexID(7, i), PubKey: hexID(8, 0), Kind: 9}, hexID(8, 0)
}

// TestQueueFull blocks the writer on a database that does not answer, fills
// the queue and checks that the next Record waits EnqueueWait, then is
// refused, counted and logged in full; nothing accepted is lost once the
// database answers again.
func TestQueueFull(t *testing.T) {
	b := sqliteBackend(t)
	g := newGated(b.st)
	obs := &counters{}
	var logs syncBuffer
	const wait = 30 * time.Millisecond
	l := audit.New(g, obs, audit.Options{QueueSize: 4, MaxBatch: 2, EnqueueWait: wait, Logger: jsonLogger(&logs)})
	startLog(t, l)
	ctx := context.Background()

	// The first entry reaches the writer, which then hangs in the store.
	ev, actor := eventEntry(0)
	if err := l.Record(ctx, audit.EventStored(actor, ev, "chan-x")); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	for i := 1; i <= 4; i++ { // fills the queue of 4
		ev, actor := eventEntry(i)
		if err := l.Record(ctx, audit.EventStored(actor, ev, "chan-x")); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
	ev, actor = eventEntry(5)
	start := time.Now()
	err := l.Record(ctx, audit.EventStored(actor, ev, "chan-x"))
	if !errors.Is(err, audit.ErrQueueFull) {
		t.Fatalf("Record on a full queue = %v, want ErrQueueFull", err)
	}
	if waited := time.Since(start); waited < wait {
		t.Fatalf("Record gave up after %v, want at least %v", waited, wait)
	}
	if got := obs.sendFailed.Load(); got != 1 {
		t.Fatalf("SendFailed counted %d, want 1", got)
	}
	out := logs.String()
	for _, want := range []string{`"level":"ERROR"`, `"event_id":"` + ev.ID + `"`, `"actor":"` + actor + `"`, `"channel":"chan-x"`, `"kind":9`, `"action":"event.stored"`} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal log lacks %s: %s", want, out)
		}
	}

	// A caller whose context ends stops waiting at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Record(cctx, audit.AllowlistChanged("op", hexID(1, 2), "add")); !errors.Is(err, audit.ErrQueueFull) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Record with a cancelled context = %v", err)
	}
	if got := obs.sendFailed.Load(); got != 2 {
		t.Fatalf("SendFailed counted %d, want 2", got)
	}
	if got := l.Pending(); got != 5 {
		t.Fatalf("Pending = %d, want 5", got)
	}

	close(g.open)
	closeLog(t, l)
	verifyIntact(t, b.st, 5)
	if obs.written.Load() != 5 || obs.writeFailed.Load() != 0 {
		t.Fatalf("written %d, write failures %d", obs.written.Load(), obs.writeFailed.Load())
	}
}

// TestCloseDrains queues entries before the writer even starts; Close must
// see all of them written, and later entries are refused loudly.
func TestCloseDrains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		obs := &counters{}
		var logs syncBuffer
		l := audit.New(b.st, obs, audit.Options{QueueSize: 300, MaxBatch: 7, Logger: jsonLogger(&logs)})
		const n = 250
		recordMany(t, l, 3, n)
		if got := l.Pending(); got != n {
			t.Fatalf("Pending = %d before the writer runs, want %d", got, n)
		}
		startLog(t, l)
		closeLog(t, l)
		if got := l.Pending(); got != 0 {
			t.Fatalf("Pending = %d after Close", got)
		}
		verifyIntact(t, b.st, n)
		if obs.written.Load() != n {
			t.Fatalf("observer saw %d written", obs.written.Load())
		}
		err := l.Record(context.Background(), audit.AllowlistChanged("op", hexID(5, 5), "add"))
		if !errors.Is(err, audit.ErrClosed) {
			t.Fatalf("Record after Close = %v, want ErrClosed", err)
		}
		if obs.sendFailed.Load() != 1 || !strings.Contains(logs.String(), "allowlist.add") {
			t.Fatalf("refusal after Close not counted or logged: %d %s", obs.sendFailed.Load(), logs.String())
		}
		// Close again is harmless.
		closeLog(t, l)
	})
}

// TestRetry: a database that fails a few writes costs retries, counted as
// write errors, and no entries.
func TestRetry(t *testing.T) {
	b := sqliteBackend(t)
	f := &flaky{Audit: b.st, left: 3}
	obs := &counters{}
	var logs syncBuffer
	l := audit.New(f, obs, audit.Options{Logger: jsonLogger(&logs)})
	startLog(t, l)
	recordMany(t, l, 4, 40)
	closeLog(t, l)
	verifyIntact(t, b.st, 40)
	if got := obs.writeFailed.Load(); got != 3 {
		t.Fatalf("WriteFailed counted %d, want 3", got)
	}
	if !strings.Contains(logs.String(), "audit write failed") {
		t.Fatalf("write failures not logged: %s", logs.String())
	}
}

// TestCloseBounded: with the database hung, Close returns when its context
// ends and says entries remain; cancelling the writer then logs every entry
// it gives up.
func TestCloseBounded(t *testing.T) {
	b := sqliteBackend(t)
	g := newGated(b.st)
	var logs syncBuffer
	l := audit.New(g, nil, audit.Options{MaxBatch: 2, Logger: jsonLogger(&logs)})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(runCtx) }()
	for i := range 5 {
		ev, actor := eventEntry(i)
		if err := l.Record(context.Background(), audit.EventStored(actor, ev, "")); err != nil {
			t.Fatal(err)
		}
	}
	<-g.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Close(ctx); err == nil || !strings.Contains(err.Error(), "5 entries") {
		t.Fatalf("Close with a hung database = %v, want 5 entries unwritten", err)
	}
	stop()
	<-done
	out := logs.String()
	for i := range 5 {
		ev, _ := eventEntry(i)
		if !strings.Contains(out, ev.ID) {
			t.Errorf("abandoned entry %d not logged", i)
		}
	}
	if n := strings.Count(out, "audit entry not written"); n != 5 {
		t.Errorf("%d abandoned entries logged, want 5", n)
	}
	if err := l.Close(context.Background()); err == nil {
		t.Fatal("Close after abandoning entries reported success")
	}
}

func TestEntryConstructors(t *testing.T) {
	actor, author := hexID(1, 0), hexID(2, 0)
	ev := &nostr.Event{ID: hexID(3, 0), PubKey: author, Kind: 40002}
	e := audit.EventStored(actor, ev, "chan")
	if e.Actor != actor || e.EventID != ev.ID || e.Kind != 40002 || e.Channel != "chan" ||
		e.Action != audit.ActionEventStored || e.Detail != `{"author":"`+author+`"}` {
		t.Fatalf("EventStored = %+v", e)
	}
	if e.Time.IsZero() || e.Time.Location() != time.UTC || e.Time.Nanosecond()%1000 != 0 {
		t.Fatalf("EventStored time %v not microsecond UTC", e.Time)
	}
	ev.PubKey = actor
	if e := audit.EventStored(actor, ev, ""); e.Detail != "" {
		t.Fatalf("self-authored event has detail %q", e.Detail)
	}
	m := audit.MembershipChanged(actor, "chan", author, "remove")
	if m.Action != "membership.remove" || m.Channel != "chan" || m.Detail != `{"target":"`+author+`"}` || m.EventID != "" {
		t.Fatalf("MembershipChanged = %+v", m)
	}
	a := audit.AllowlistChanged("cli", author, "add")
	if a.Action != "allowlist.add" || a.Actor != "cli" || a.Detail != `{"pubkey":"`+author+`"}` {
		t.Fatalf("AllowlistChanged = %+v", a)
	}
}
