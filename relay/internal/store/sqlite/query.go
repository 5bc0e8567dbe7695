package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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

const selectCols = "SELECT e.id, e.created_at, e.raw FROM "

// from is the FROM clause for a scope: a restricted read joins each event's
// channel row (primary-key lookup) to learn whether the channel is open.
func from(s store.Scope) string {
	if s.Unrestricted {
		return "events e WHERE "
	}
	return "events e LEFT JOIN channels c ON c.id = e.channel WHERE "
}

const orderBy = " ORDER BY e.created_at DESC, e.id"

// builder accumulates positional arguments while SQL text is assembled.
type builder struct {
	args []any
}

// eq compares col with one value, or with any of several.
func eq[T any](b *builder, col string, vals []T) string {
	if len(vals) == 1 {
		b.args = append(b.args, vals[0])
		return col + " = ?"
	}
	for _, v := range vals {
		b.args = append(b.args, v)
	}
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",") + ")"
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

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
func (b *builder) cond(f *nostr.Filter) (string, bool) {
	var parts []string
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.id", f.IDs))
	}
	if f.Authors != nil {
		if len(f.Authors) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.pubkey", f.Authors))
	}
	if f.Kinds != nil {
		if len(f.Kinds) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.kind", f.Kinds))
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
			parts = append(parts, eq(b, "e.channel", vals))
		case len(name) == 1:
			parts = append(parts, "EXISTS (SELECT 1 FROM event_tags t WHERE t.event_id = e.id AND t.name = "+
				b.arg(name)+" AND "+eq(b, "t.value", vals)+")")
		}
	}
	if len(parts) == 0 {
		return "", true
	}
	return strings.Join(parts, " AND "), true
}

// scope returns the read-scope condition, or "" when unrestricted (see the
// postgres package for the reasoning; the shape is the same).
func (b *builder) scope(s store.Scope) string {
	if s.Unrestricted {
		return ""
	}
	c := "(e.channel IS NULL"
	if len(s.Channels) > 0 {
		c += " OR " + eq(b, "e.channel", s.Channels)
	}
	return c + " OR c.visibility = 'open')"
}

// where joins a filter's condition and the scope; "" means no WHERE terms.
func (b *builder) where(f *nostr.Filter, s store.Scope) (string, bool) {
	mark := len(b.args)
	c, ok := b.cond(f)
	if !ok {
		b.args = b.args[:mark]
		return "", false
	}
	sc := b.scope(s)
	switch {
	case c == "" && sc == "":
		return "1", true
	case c == "":
		return sc, true
	case sc == "":
		return c, true
	}
	return c + " AND " + sc, true
}

// buildQuery returns one statement answering every filter SQL answers
// completely, and the indexes of the filters needing a Go-side tag check.
func buildQuery(filters []nostr.Filter, scope store.Scope) (string, []any, []int) {
	b := &builder{}
	var parts []string
	var goFilters []int
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
	// SQLite allows ORDER BY/LIMIT in a compound member only inside a
	// subquery.
	return "SELECT * FROM (" + strings.Join(parts, ") UNION ALL SELECT * FROM (") + ")", b.args, goFilters
}

// Query returns the events matching any filter within scope, newest first.
func (s *Store) Query(ctx context.Context, filters []nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	q, args, goFilters := buildQuery(filters, scope)
	seen := map[string]bool{}
	var out []*nostr.Event
	if q != "" {
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("store: query events: %w", err)
		}
		evs, _, err := collect(rows, seen, nil)
		if err != nil {
			return nil, err
		}
		out = evs
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

// collect decodes rows not yet in seen, keeping those keep accepts (all
// when keep is nil). It returns how many rows it read and closes rows.
func collect(rows *sql.Rows, seen map[string]bool, keep func(*nostr.Event) bool) ([]*nostr.Event, int, error) {
	defer func() { _ = rows.Close() }()
	var out []*nostr.Event
	n := 0
	for rows.Next() {
		var id, raw string
		var at int64
		if err := rows.Scan(&id, &at, &raw); err != nil {
			return nil, n, fmt.Errorf("store: query events: %w", err)
		}
		n++
		if seen[id] {
			continue
		}
		ev, err := decodeEvent(raw)
		if err != nil {
			return nil, n, err
		}
		if keep != nil && !keep(ev) {
			continue
		}
		seen[id] = true
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, n, fmt.Errorf("store: query events: %w", err)
	}
	return out, n, nil
}

// scanFiltered answers a filter with a multi-letter tag constraint by paging
// through the SQL-expressible part newest first, keeping matches until the
// limit or postScanBudget rows examined.
func (s *Store) scanFiltered(ctx context.Context, f *nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	limit := limitOf(f)
	var out []*nostr.Event
	scanned := 0
	var last *nostr.Event
	for scanned < postScanBudget && len(out) < limit {
		b := &builder{}
		w, ok := b.where(f, scope)
		if !ok {
			return nil, nil
		}
		if last != nil {
			w += " AND (e.created_at < " + b.arg(last.CreatedAt) + " OR (e.created_at = " + b.arg(last.CreatedAt) + " AND e.id > " + b.arg(last.ID) + "))"
		}
		page := min(postPage, postScanBudget-scanned)
		rows, err := s.db.QueryContext(ctx, selectCols+from(scope)+w+orderBy+" LIMIT "+strconv.Itoa(page), b.args...)
		if err != nil {
			return nil, fmt.Errorf("store: query events: %w", err)
		}
		// Every row moves the cursor; matches are kept up to the limit.
		kept := len(out)
		evs, n, err := collect(rows, map[string]bool{}, func(ev *nostr.Event) bool {
			last = ev
			if kept < limit && f.Matches(ev) {
				kept++
				return true
			}
			return false
		})
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
		scanned += n
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

// Count returns how many distinct events match any filter within scope:
// one scan with the filters OR-ed, so an event matching several counts
// once. A filter with a multi-letter tag constraint yields
// store.ErrUncountable.
func (s *Store) Count(ctx context.Context, filters []nostr.Filter, scope store.Scope) (int64, error) {
	b := &builder{}
	var conds []string
	for i := range filters {
		f := &filters[i]
		if needsGo(f) {
			return 0, fmt.Errorf("store: count events: %w", store.ErrUncountable)
		}
		mark := len(b.args)
		c, ok := b.cond(f)
		if !ok {
			b.args = b.args[:mark]
			continue
		}
		if c == "" {
			c = "1"
		}
		conds = append(conds, "("+c+")")
	}
	if len(conds) == 0 {
		return 0, nil
	}
	q := "SELECT count(*) FROM " + from(scope) + "(" + strings.Join(conds, " OR ") + ")"
	if sc := b.scope(scope); sc != "" {
		q += " AND " + sc
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, q, b.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	return n, nil
}
