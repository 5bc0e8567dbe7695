package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

func testPubkeyLists(t *testing.T, s store.Store) {
	allow, members := s.Allowlist(), s.RelayMembers()
	for _, pk := range []string{bob.PubKey, alice.PubKey, bob.PubKey} {
		if err := allow.Add(ctx(t), pk); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	list := func(l store.PubkeyList) []string {
		got, err := l.List(ctx(t))
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return got
	}
	contains := func(l store.PubkeyList, pk string) bool {
		ok, err := l.Contains(ctx(t), pk)
		if err != nil {
			t.Fatalf("contains: %v", err)
		}
		return ok
	}
	want := []string{alice.PubKey, bob.PubKey}
	slices.Sort(want)
	if got := list(allow); !slices.Equal(got, want) {
		t.Fatalf("allowlist %v, want %v", got, want)
	}
	if !contains(allow, alice.PubKey) || contains(allow, carol.PubKey) {
		t.Fatal("allowlist contains")
	}
	// The two lists are separate.
	if got := list(members); len(got) != 0 || contains(members, alice.PubKey) {
		t.Fatalf("relay members %v", got)
	}
	if err := members.Add(ctx(t), carol.PubKey); err != nil {
		t.Fatalf("add member: %v", err)
	}
	if !contains(members, carol.PubKey) || contains(allow, carol.PubKey) {
		t.Fatal("relay member add leaked")
	}
	if err := allow.Remove(ctx(t), alice.PubKey); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := allow.Remove(ctx(t), alice.PubKey); err != nil {
		t.Fatalf("remove absent: %v", err)
	}
	if got := list(allow); !slices.Equal(got, []string{bob.PubKey}) {
		t.Fatalf("after remove %v", got)
	}
	if got := list(members); !slices.Equal(got, []string{carol.PubKey}) {
		t.Fatalf("members after allowlist remove %v", got)
	}
}

// auditLink is a test chain function over every field.
func auditLink(prev []byte, e *store.AuditEntry) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UnixNano()))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Kind))
	h.Write(n[:])
	for _, s := range []string{e.Actor, e.Action, e.EventID, e.Channel, e.Detail} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return h.Sum(nil)
}

func testAudit(t *testing.T, s store.Store) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	first := []store.AuditEntry{
		{Time: at, Actor: alice.PubKey, Action: "channel.create", EventID: "e1", Kind: 9007, Channel: chOpen, Detail: "name=x"},
		{Time: at, Actor: alice.PubKey, Action: "member.add", EventID: "e2", Kind: 9000, Channel: chOpen, Detail: "p=bob"},
	}
	if err := s.AppendAudit(ctx(t), first, auditLink); err != nil {
		t.Fatalf("append: %v", err)
	}
	if first[0].Seq != 1 || first[1].Seq != 2 || len(first[0].Hash) == 0 || !bytes.Equal(first[1].PrevHash, first[0].Hash) {
		t.Fatalf("append did not link the caller's entries: %+v", first)
	}
	second := []store.AuditEntry{{Actor: bob.PubKey, Action: "member.remove", Kind: 9001, Channel: chOpen}}
	if err := s.AppendAudit(ctx(t), second, auditLink); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := s.AppendAudit(ctx(t), nil, auditLink); err != nil {
		t.Fatalf("append nothing: %v", err)
	}
	var got []store.AuditEntry
	if err := s.AuditEntries(ctx(t), func(e store.AuditEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("entries: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d entries", len(got))
	}
	var prev []byte
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			t.Fatalf("entry %d prev hash does not link", i)
		}
		if !bytes.Equal(auditLink(prev, &e), e.Hash) {
			t.Fatalf("entry %d hash does not verify from the stored fields: %+v", i, e)
		}
		prev = e.Hash
	}
	if got[1].Action != "member.add" || got[1].Detail != "p=bob" || got[1].Kind != 9000 || got[1].EventID != "e2" || got[1].Channel != chOpen || got[1].Actor != alice.PubKey {
		t.Fatalf("fields not kept: %+v", got[1])
	}
	if !got[0].Time.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("time %v, want %v", got[0].Time, at)
	}
	if got[2].Time.IsZero() || time.Since(got[2].Time) > time.Hour {
		t.Fatalf("zero time not filled: %v", got[2].Time)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.AuditEntries(ctx(t), func(store.AuditEntry) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("callback error: %v after %d calls", err, calls)
	}
}

// testConcurrentReplaceable races versions of one replaceable slot; exactly
// the newest (lowest id among the newest) survives.
func testConcurrentReplaceable(t *testing.T, s store.Store) {
	const writers = 16
	var evs []*nostr.Event
	for i := range writers {
		// Three versions share the newest second, so the tie rule is raced too.
		at := base + int64(min(i, writers-3))
		evs = append(evs, alice.Event(10002, at, fmt.Sprintf("v%d", i)))
	}
	winner := order(evs)[0]
	RaceSaves(t, []store.Store{s}, evs)
	expect(t, "survivor", query(t, s, all, nostr.Filter{Kinds: []int{10002}}), winner)
}

// RaceSaves saves evs concurrently, one goroutine per event, spreading them
// over stores (which may be separate pools on one database), and fails the
// test on any error other than ErrSuperseded.
func RaceSaves(t *testing.T, stores []store.Store, evs []*nostr.Event) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(evs))
	for i, ev := range evs {
		wg.Go(func() {
			<-start
			errs[i] = stores[i%len(stores)].Save(ctx(t), ev, nil)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrSuperseded) {
			t.Fatalf("save %d: %v", i, err)
		}
	}
}

// testConcurrentChannelCreate races creations of one channel id.
func testConcurrentChannelCreate(t *testing.T, s store.Store) {
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range racers {
		signer := NewSigner(fmt.Sprintf("racer%d", i))
		ev := signer.Event(nostr.KindCreateChannel, base, "", []string{"h", chOpen}, []string{"name", "race"})
		wg.Go(func() {
			<-start
			errs[i] = s.Save(ctx(t), ev, createChange(ev, chOpen, store.Open))
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrChannelExists):
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creations succeeded", wins)
	}
	members, err := s.Members(ctx(t), chOpen)
	if err != nil || len(members) != 1 {
		t.Fatalf("members after race: %v %v", members, err)
	}
	if n := count(t, s, all, nostr.Filter{Kinds: []int{nostr.KindCreateChannel}}); n != 1 {
		t.Fatalf("%d 9007 events stored", n)
	}
}
