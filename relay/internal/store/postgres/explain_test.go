package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlbuild"
)

// TestQueryPlansUseIndexes loads 200 000 events and checks, with EXPLAIN of
// the exact statements the store issues, that the common REQ shapes read an
// index instead of scanning the events table.
func TestQueryPlansUseIndexes(t *testing.T) {
	start := time.Now()
	s := openTest(t, newSchema(t), 4)
	ctx := context.Background()
	const channels = 100
	const total = 200_000
	// 100 channels (every fifth private); half the events in a channel;
	// kinds 1, 7 and 9; 1000 authors; one e tag on every tenth event.
	setup := []string{
		`INSERT INTO channels (id, name, visibility, creator, created_at)
		 SELECT md5('ch' || i)::uuid::text, 'c' || i, CASE WHEN i % 5 = 0 THEN 'private' ELSE 'open' END, md5('a1'), 0
		 FROM generate_series(0, 19999) AS i`,
		`INSERT INTO events (id, pubkey, created_at, kind, channel, replace_key, raw)
		 SELECT id, pk, 1700000000 + i, (ARRAY[1, 7, 9])[i % 3 + 1],
		        CASE WHEN i % 2 = 0 THEN md5('ch' || (i / 2 % 100))::uuid::text END, NULL,
		        '{"id":"' || id || '","pubkey":"' || pk || '","created_at":' || (1700000000 + i) || ',"kind":1,"tags":[],"content":"","sig":""}'
		 FROM (SELECT i, md5('ev' || i) || md5('ev2' || i) AS id, md5('a' || (i % 1000)) || md5('a' || (i % 1000)) AS pk
		       FROM generate_series(1, 200000) AS i) AS g`,
		`INSERT INTO event_tags (event_id, name, value, created_at)
		 SELECT md5('ev' || i) || md5('ev2' || i), 'e', md5('target' || (i / 10 % 500)), 1700000000 + i
		 FROM generate_series(10, 200000, 10) AS i`,
		`ANALYZE events`, `ANALYZE event_tags`, `ANALYZE channels`,
	}
	for _, q := range setup {
		t0 := time.Now()
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatalf("setup: %v", err)
		}
		t.Logf("%v: %.40s", time.Since(t0), strings.TrimSpace(q))
	}
	var chID, privID string
	if err := s.Pool().QueryRow(ctx, `SELECT md5('ch7')::uuid::text, md5('ch5')::uuid::text`).Scan(&chID, &privID); err != nil {
		t.Fatal(err)
	}
	limit := func(n int) *int { return &n }
	var author string
	if err := s.Pool().QueryRow(ctx, `SELECT md5('a42') || md5('a42')`).Scan(&author); err != nil {
		t.Fatal(err)
	}
	var target string
	if err := s.Pool().QueryRow(ctx, `SELECT md5('target7')`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	member := store.Scope{Channels: []string{privID}}
	cases := []struct {
		name    string
		filters []nostr.Filter
		scope   store.Scope
		index   string
		rows    int
	}{
		{"#h open", []nostr.Filter{{Tags: map[string][]string{"h": {chID}}, Limit: limit(100)}}, store.Scope{}, "events_channel_idx", 100},
		{"#h private member", []nostr.Filter{{Tags: map[string][]string{"h": {privID}}, Limit: limit(100)}}, member, "events_channel_idx", 100},
		{"#h private stranger", []nostr.Filter{{Tags: map[string][]string{"h": {privID}}, Limit: limit(100)}}, store.Scope{}, "events_channel_idx", 0},
		{"#h with kind", []nostr.Filter{{Kinds: []int{9}, Tags: map[string][]string{"h": {chID}}, Limit: limit(50)}}, store.Scope{}, "events_", 50},
		{"author kind", []nostr.Filter{{Authors: []string{author}, Kinds: []int{1}, Limit: limit(20)}}, member, "events_author_kind_idx", 20},
		{"kind", []nostr.Filter{{Kinds: []int{7}, Limit: limit(100)}}, store.Scope{}, "events_", 100},
		{"recent", []nostr.Filter{{Limit: limit(100)}}, store.Scope{}, "events_created_idx", 100},
		{"#e", []nostr.Filter{{Tags: map[string][]string{"e": {target}}, Limit: limit(100)}}, store.Scope{Unrestricted: true}, "event_tags_value_idx", 40},
		{"id", []nostr.Filter{{IDs: []string{"00"}}}, store.Scope{}, "events_pkey", 0},
	}
	for _, c := range cases {
		sql, args, goFilters := sqlbuild.Query(dialect, c.filters, c.scope)
		if len(goFilters) != 0 || sql == "" {
			t.Fatalf("%s: not answered by one statement", c.name)
		}
		plan := explain(t, s, sql, args)
		t.Logf("%s:\n%s\n%s", c.name, sql, plan)
		if !strings.Contains(plan, c.index) {
			t.Errorf("%s: plan does not use %s:\n%s\n%s", c.name, c.index, sql, plan)
		}
		if strings.Contains(plan, "Seq Scan on events") {
			t.Errorf("%s: plan scans events:\n%s\n%s", c.name, sql, plan)
		}
		got, err := s.Query(ctx, c.filters, c.scope)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != c.rows {
			t.Errorf("%s: %d rows, want %d", c.name, len(got), c.rows)
		}
	}
	// The count of a channel is index-only work too.
	sql, args, err := sqlbuild.Count(dialect, []nostr.Filter{{Tags: map[string][]string{"h": {chID}}}}, store.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if plan := explain(t, s, sql, args); strings.Contains(plan, "Seq Scan on events") {
		t.Errorf("count plan scans events:\n%s", plan)
	}
	n, err := s.Count(ctx, []nostr.Filter{{Tags: map[string][]string{"h": {chID}}}}, store.Scope{})
	if err != nil || n != total/2/channels {
		t.Errorf("count of one channel: %d %v", n, err)
	}
	t.Logf("loaded and checked in %v", time.Since(start))
}

func explain(t *testing.T, s *Store, sql string, args []any) string {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, sql)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	return strings.Join(lines, "\n")
}
