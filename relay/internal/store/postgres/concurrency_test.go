package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/migration"
	"github.com/buzzrelay/buzz/relay/internal/store/storetest"
)

// TestReplaceableAcrossPools races replaceable and addressable saves
// through several pools on one schema, as several relay processes would,
// and checks that exactly the right version of each slot survives.
func TestReplaceableAcrossPools(t *testing.T) {
	schema := newSchema(t)
	var stores []store.Store
	for range 4 {
		stores = append(stores, openTest(t, schema, 4))
	}
	const base = 1_700_000_000
	signers := []*storetest.Signer{storetest.NewSigner("p1"), storetest.NewSigner("p2"), storetest.NewSigner("p3")}
	var evs []*nostr.Event
	winners := map[string]*nostr.Event{}
	better := func(a, b *nostr.Event) bool {
		return a.CreatedAt > b.CreatedAt || (a.CreatedAt == b.CreatedAt && a.ID < b.ID)
	}
	for _, sg := range signers {
		for _, slot := range []struct {
			kind int
			d    string
		}{{0, ""}, {10002, ""}, {30023, "a"}, {30023, "b"}} {
			for i := range 12 {
				at := int64(base + min(i, 9)) // the last three tie
				var ev *nostr.Event
				if slot.d != "" {
					ev = sg.Event(slot.kind, at, fmt.Sprintf("v%d", i), []string{"d", slot.d})
				} else {
					ev = sg.Event(slot.kind, at, fmt.Sprintf("v%d", i))
				}
				evs = append(evs, ev)
				key := fmt.Sprintf("%s:%d:%s", sg.PubKey, slot.kind, slot.d)
				if w := winners[key]; w == nil || better(ev, w) {
					winners[key] = ev
				}
			}
		}
	}
	storetest.RaceSaves(t, stores, evs)
	got, err := stores[0].Query(context.Background(), []nostr.Filter{{}}, store.Scope{Unrestricted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(winners) {
		t.Fatalf("%d events survive, want %d", len(got), len(winners))
	}
	for _, ev := range got {
		key := fmt.Sprintf("%s:%d:%s", ev.PubKey, ev.Kind, ev.DTag())
		if winners[key].ID != ev.ID {
			t.Fatalf("slot %s kept %s, want %s", key, ev.Content, winners[key].Content)
		}
	}
}

// TestDeletionRacesSaves runs a-tag and e-tag deletions concurrently with
// saves of the targets through separate pools: whatever the interleaving, no
// deleted version survives.
func TestDeletionRacesSaves(t *testing.T) {
	schema := newSchema(t)
	a, b := openTest(t, schema, 4), openTest(t, schema, 4)
	ctx := context.Background()
	const base = 1_700_000_000
	for round := range 20 {
		sg := storetest.NewSigner(fmt.Sprintf("round%d", round))
		version := sg.Event(30023, base+10, "v", []string{"d", "x"})
		note := sg.Event(1, base+10, "note")
		del := sg.Event(nostr.KindDeletion, base+20, "",
			[]string{"a", fmt.Sprintf("30023:%s:x", sg.PubKey)}, []string{"e", note.ID})
		var wg sync.WaitGroup
		var errs [3]error
		wg.Go(func() { errs[0] = a.Save(ctx, version, nil) })
		wg.Go(func() { errs[1] = b.Save(ctx, note, nil) })
		wg.Go(func() { errs[2] = b.Save(ctx, del, nil) })
		wg.Wait()
		if errs[2] != nil {
			t.Fatalf("deletion: %v", errs[2])
		}
		for i, err := range errs[:2] {
			if err != nil && !errors.Is(err, store.ErrDeleted) {
				t.Fatalf("round %d save %d: %v", round, i, err)
			}
		}
		n, err := a.Count(ctx, []nostr.Filter{{Authors: []string{sg.PubKey}, Kinds: []int{1, 30023}}}, store.Scope{Unrestricted: true})
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("round %d: %d deleted events survived", round, n)
		}
	}
}

// TestMigrateConcurrently starts several migrations of one schema at once.
func TestMigrateConcurrently(t *testing.T) {
	schema := newSchema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = Migrate(ctx, relaytest.DatabaseURL(), Options{Schema: schema}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
	}
	s := openTest(t, schema, 2)
	migs, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var n, maxV int
	if err := s.Pool().QueryRow(ctx, "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != len(migs) || maxV != migs[len(migs)-1].Version {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d", n, maxV, len(migs))
	}
	if err := Migrate(ctx, relaytest.DatabaseURL(), Options{Schema: schema}); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	st := s.PoolStats()
	if st.Max != 2 || st.Size < 1 || st.Idle > st.Size {
		t.Fatalf("pool stats %+v", st)
	}
}

func TestOpenRejectsBadSchema(t *testing.T) {
	if _, err := Open(context.Background(), relaytest.DatabaseURL(), Options{Schema: "x; DROP TABLE y"}); err == nil {
		t.Fatal("bad schema name accepted")
	}
}
