package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

const (
	// defaultLimit bounds a filter without a limit (the caller normally
	// clamps first).
	defaultLimit = 1000
	// postScanBudget is how many rows a filter with a multi-letter tag
	// constraint examines at most: SQL answers the rest of the filter,
	// newest first, and Go checks the multi-letter tags on at most this
	// many candidates. Matches older than that window are not returned.
	postScanBudget = store.CountLimit
	// postPage is the page size of that scan.
	postPage = 500
)

// selectCols is what every event query reads; raw decodes to the event.
const selectCols = "SELECT e.id, e.created_at, e.raw FROM "

// from is the FROM clause for a scope: a restricted read joins each event's
// channel row (primary-key lookup) to learn whether the channel is open.
func from(s store.Scope) string {
	if s.Unrestricted {
		return "events e WHERE "
	}
	return "events e LEFT JOIN channels c ON c.id = e.channel WHERE "
}

// orderBy is the result order: newest first, ties by id.
const orderBy = " ORDER BY e.created_at DESC, e.id"

// builder accumulates positional arguments while SQL text is assembled.
type builder struct {
	args     []any
	scopeSQL *string
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// eq compares col with one value, or with any of several. A single value
// uses "=" so that an index on col also yields the result order.
func eq[T any](b *builder, col string, vals []T) string {
	if len(vals) == 1 {
		return col + " = " + b.arg(vals[0])
	}
	return col + " = ANY(" + b.arg(vals) + ")"
}

// limitOf is how many events a filter may contribute.
func limitOf(f *nostr.Filter) int {
	if f.Limit == nil {
		return defaultLimit
	}
	return max(*f.Limit, 0)
}

// needsGo reports a tag constraint SQL does not answer (multi-letter name).
func needsGo(f *nostr.Filter) bool {
	for name := range f.Tags {
		if len(name) != 1 {
			return true
		}
	}
	return false
}

// cond returns f's constraints as SQL (multi-letter tags left out), or
// ok=false when f can match nothing.
func (b *builder) cond(f *nostr.Filter) (sql string, ok bool) {
	var parts []string
	if f.IDs != nil {
		ids := textSafe(f.IDs)
		if len(ids) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.id", ids))
	}
	if f.Authors != nil {
		authors := textSafe(f.Authors)
		if len(authors) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.pubkey", authors))
	}
	if f.Kinds != nil {
		kinds := make([]int32, 0, len(f.Kinds))
		for _, k := range f.Kinds {
			if k >= 0 && k <= math.MaxInt32 {
				kinds = append(kinds, int32(k))
			}
		}
		if len(kinds) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.kind", kinds))
	}
	if f.Since != nil {
		parts = append(parts, "e.created_at >= "+b.arg(*f.Since))
	}
	if f.Until != nil {
		parts = append(parts, "e.created_at <= "+b.arg(*f.Until))
	}
	names := make([]string, 0, len(f.Tags))
	for name := range f.Tags {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := f.Tags[name]
		if len(vals) == 0 {
			return "", false
		}
		switch {
		case name == "h":
			chans := textSafe(vals)
			if len(chans) == 0 {
				return "", false
			}
			parts = append(parts, eq(b, "e.channel", chans))
		case len(name) == 1:
			keys := make([]string, len(vals))
			for i, v := range vals {
				keys[i] = tagKey(v)
			}
			parts = append(parts, "EXISTS (SELECT 1 FROM event_tags t WHERE t.event_id = e.id AND t.name = "+
				b.arg(name)+" AND "+eq(b, "t.value", keys)+")")
		}
	}
	if len(parts) == 0 {
		return "TRUE", true
	}
	return strings.Join(parts, " AND "), true
}

// scope returns the read-scope condition, or "" when unrestricted. An
// event is readable when it has no channel, when the reader belongs to its
// channel, or when its channel's row (joined by from, one primary-key
// lookup per candidate row) says the channel is open. A LEFT JOIN rather
// than a correlated EXISTS because PostgreSQL would otherwise hash every
// open channel for each query. The text is built once per statement.
func (b *builder) scope(s store.Scope) string {
	if s.Unrestricted {
		return ""
	}
	if b.scopeSQL != nil {
		return *b.scopeSQL
	}
	c := "(e.channel IS NULL"
	if chans := textSafe(s.Channels); len(chans) > 0 {
		c += " OR e.channel = ANY(" + b.arg(chans) + ")"
	}
	c += " OR c.visibility = 'open')"
	b.scopeSQL = &c
	return c
}

func (b *builder) where(f *nostr.Filter, s store.Scope) (string, bool) {
	mark := len(b.args)
	c, ok := b.cond(f)
	if !ok {
		b.args = b.args[:mark]
		return "", false
	}
	if sc := b.scope(s); sc != "" {
		if c == "TRUE" {
			return sc, true
		}
		c += " AND " + sc
	}
	return c, true
}

// buildQuery returns the one statement that answers every filter SQL can
// answer completely (a UNION ALL of one limited SELECT per filter), and the
// indexes of the filters that need a Go-side tag check.
func buildQuery(filters []nostr.Filter, scope store.Scope) (sql string, args []any, goFilters []int) {
	b := &builder{}
	var parts []string
	for i := range filters {
		f := &filters[i]
		lim := limitOf(f)
		if lim == 0 {
			continue
		}
		if needsGo(f) {
			goFilters = append(goFilters, i)
			continue
		}
		w, ok := b.where(f, scope)
		if !ok {
			continue
		}
		parts = append(parts, selectCols+from(scope)+w+orderBy+" LIMIT "+strconv.Itoa(lim))
	}
	switch len(parts) {
	case 0:
		return "", nil, goFilters
	case 1:
		return parts[0], b.args, goFilters
	}
	return "(" + strings.Join(parts, ") UNION ALL (") + ")", b.args, goFilters
}

// Query returns the events matching any filter within scope, newest first.
func (s *Store) Query(ctx context.Context, filters []nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	sql, args, goFilters := buildQuery(filters, scope)
	seen := map[string]bool{}
	var out []*nostr.Event
	if sql != "" {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, fmt.Errorf("store: query events: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, raw string
			var at int64
			if err := rows.Scan(&id, &at, &raw); err != nil {
				return nil, fmt.Errorf("store: query events: %w", err)
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			ev, err := decodeEvent(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: query events: %w", err)
		}
		rows.Close()
	}
	for _, i := range goFilters {
		evs, err := s.scanFiltered(ctx, &filters[i], scope)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if !seen[ev.ID] {
				seen[ev.ID] = true
				out = append(out, ev)
			}
		}
	}
	sortEvents(out)
	return out, nil
}

// scanFiltered answers a filter with a multi-letter tag constraint: it
// pages through the SQL-expressible part newest first and keeps the events
// that match the whole filter, until the limit is reached or
// postScanBudget rows have been examined.
func (s *Store) scanFiltered(ctx context.Context, f *nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	limit := limitOf(f)
	var out []*nostr.Event
	scanned := 0
	var afterAt int64
	var afterID string
	first := true
	for scanned < postScanBudget && len(out) < limit {
		b := &builder{}
		w, ok := b.where(f, scope)
		if !ok {
			return nil, nil
		}
		if !first {
			a := b.arg(afterAt)
			w += " AND (e.created_at < " + a + " OR (e.created_at = " + a + " AND e.id > " + b.arg(afterID) + "))"
		}
		page := min(postPage, postScanBudget-scanned)
		rows, err := s.pool.Query(ctx, selectCols+from(scope)+w+orderBy+" LIMIT "+strconv.Itoa(page), b.args...)
		if err != nil {
			return nil, fmt.Errorf("store: query events: %w", err)
		}
		n := 0
		for rows.Next() {
			var raw string
			if err := rows.Scan(&afterID, &afterAt, &raw); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: query events: %w", err)
			}
			n++
			ev, err := decodeEvent(raw)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if len(out) < limit && f.Matches(ev) {
				out = append(out, ev)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: query events: %w", err)
		}
		scanned += n
		first = false
		if n < page {
			break
		}
	}
	return out, nil
}

// sortEvents puts events in result order: created_at desc, id asc.
func sortEvents(evs []*nostr.Event) {
	slices.SortFunc(evs, func(a, b *nostr.Event) int {
		if a.CreatedAt != b.CreatedAt {
			if a.CreatedAt > b.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// buildCount returns one statement counting the distinct events that match
// any filter within scope: a single scan with the filters OR-ed, so an
// event matching several filters counts once. sql is "" when no filter can
// match anything.
func buildCount(filters []nostr.Filter, scope store.Scope) (sql string, args []any, err error) {
	b := &builder{}
	var conds []string
	for i := range filters {
		f := &filters[i]
		if needsGo(f) {
			return "", nil, store.ErrUncountable
		}
		mark := len(b.args)
		c, ok := b.cond(f)
		if !ok {
			b.args = b.args[:mark]
			continue
		}
		conds = append(conds, "("+c+")")
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	sql = "SELECT count(*) FROM " + from(scope) + "(" + strings.Join(conds, " OR ") + ")"
	if sc := b.scope(scope); sc != "" {
		sql += " AND " + sc
	}
	return sql, b.args, nil
}

// Count returns how many distinct events match any filter within scope.
// A filter with a multi-letter tag constraint yields store.ErrUncountable.
func (s *Store) Count(ctx context.Context, filters []nostr.Filter, scope store.Scope) (int64, error) {
	sql, args, err := buildCount(filters, scope)
	if err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	if sql == "" {
		return 0, nil
	}
	var n int64
	if err := s.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	return n, nil
}
