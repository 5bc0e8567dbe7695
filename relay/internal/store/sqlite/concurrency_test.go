package sqlite

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlbuild"
	"github.com/buzzrelay/buzz/relay/internal/store/storetest"
)

// TestTwoOpenersOneFile opens one file twice at once (two processes would
// do the same) and races replaceable saves through both handles.
func TestTwoOpenersOneFile(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	stores := make([]*Store, 3)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), dir) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var mode string
	if err := stores[0].DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q %v", mode, err)
	}
	var versions int
	if err := stores[0].DB().QueryRow("SELECT count(*) FROM schema_migrations").Scan(&versions); err != nil || versions != 1 {
		t.Fatalf("schema_migrations rows %d %v", versions, err)
	}
	sg := storetest.NewSigner("sqlite-race")
	var evs []*nostr.Event
	for i := range 24 {
		evs = append(evs, sg.Event(30023, int64(1_700_000_000+min(i, 20)), fmt.Sprintf("v%d", i), []string{"d", "x"}))
	}
	winner := evs[21]
	for _, ev := range evs[21:] {
		if ev.ID < winner.ID {
			winner = ev
		}
	}
	all := []store.Store{stores[0], stores[1], stores[2]}
	storetest.RaceSaves(t, all, evs)
	got, err := stores[1].Query(context.Background(), []nostr.Filter{{}}, store.Scope{Unrestricted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != winner.ID {
		t.Fatalf("survivors %d, want only %s", len(got), winner.Content)
	}
	if st := stores[0].PoolStats(); st.Max != maxConns || st.Size < 1 {
		t.Fatalf("pool stats %+v", st)
	}
}

// TestChannelQueryUsesIndex checks SQLite's plan for a #h REQ.
func TestChannelQueryUsesIndex(t *testing.T) {
	s := openTest(t, t.TempDir())
	limit := 100
	q, args, _ := sqlbuild.Query(dialect, []nostr.Filter{{Tags: map[string][]string{"h": {"6f1d8c1e-0d4a-4c55-9b1e-000000000001"}}, Limit: &limit}}, store.Scope{})
	rows, err := s.DB().Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "events_channel_idx") || strings.Contains(text, "SCAN e") || strings.Contains(text, "TEMP B-TREE") {
		t.Fatalf("plan:\n%s\n%s", q, text)
	}
}
