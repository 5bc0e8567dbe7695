// Package eventquery answers Query and Count for the SQL stores: it runs
// the statements sqlbuild writes through a small driver-neutral interface,
// pages through filters SQL cannot answer completely, and merges,
// de-duplicates and orders the per-filter results. Only running a
// statement differs between drivers.
package eventquery

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/eventrow"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlbuild"
)

// Rows is a statement's result cursor; pgx.Rows and *sql.Rows both fit.
type Rows = interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Row is one result row; pgx.Row and *sql.Row both fit. Row and Rows are
// aliases of interface literals, so one driver adapter can satisfy both
// this DB and records.DB.
type Row = interface {
	Scan(dest ...any) error
}

// DB runs statements for this package.
type DB interface {
	// Query runs sql; the caller calls done once it is finished with rows.
	Query(ctx context.Context, sql string, args ...any) (rows Rows, done func(), err error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Query returns the events matching any filter within scope, newest first
// (created_at desc, id asc), each once.
func Query(ctx context.Context, db DB, d sqlbuild.Dialect, filters []nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	sql, args, goFilters := sqlbuild.Query(d, filters, scope)
	seen := map[string]bool{}
	var out []*nostr.Event
	if sql != "" {
		err := each(ctx, db, sql, args, func(id string, _ int64, raw string) error {
			if seen[id] {
				return nil
			}
			seen[id] = true
			ev, err := eventrow.Decode(raw)
			if err != nil {
				return err
			}
			out = append(out, ev)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, i := range goFilters {
		evs, err := scanFiltered(ctx, db, d, &filters[i], scope)
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

// each runs an event statement and calls fn for every row, returning the
// first error (fn's unwrapped, the driver's wrapped).
func each(ctx context.Context, db DB, sql string, args []any, fn func(id string, at int64, raw string) error) error {
	rows, done, err := db.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("store: query events: %w", err)
	}
	defer done()
	for rows.Next() {
		var id, raw string
		var at int64
		if err := rows.Scan(&id, &at, &raw); err != nil {
			return fmt.Errorf("store: query events: %w", err)
		}
		if err := fn(id, at, raw); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: query events: %w", err)
	}
	return nil
}

// scanFiltered answers a filter with a multi-letter tag constraint: it
// pages through the SQL-expressible part newest first and keeps the events
// that match the whole filter, until the limit is reached or
// sqlbuild.PostScanBudget rows have been examined.
func scanFiltered(ctx context.Context, db DB, d sqlbuild.Dialect, f *nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	limit := sqlbuild.LimitOf(f)
	var out []*nostr.Event
	scanned := 0
	var afterAt int64
	var afterID string
	first := true
	for scanned < sqlbuild.PostScanBudget && len(out) < limit {
		b := sqlbuild.NewBuilder(d)
		w, ok := b.Where(f, scope)
		if !ok {
			return nil, nil
		}
		if !first {
			w += " AND " + b.After(afterAt, afterID)
		}
		page := min(sqlbuild.PostPage, sqlbuild.PostScanBudget-scanned)
		n := 0
		// Every row moves the cursor; matches are kept up to the limit.
		err := each(ctx, db, sqlbuild.Select(scope, w, page), b.Args(), func(id string, at int64, raw string) error {
			afterID, afterAt = id, at
			n++
			ev, err := eventrow.Decode(raw)
			if err != nil {
				return err
			}
			if len(out) < limit && f.Matches(ev) {
				out = append(out, ev)
			}
			return nil
		})
		if err != nil {
			return nil, err
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

// Count returns how many distinct events match any filter within scope. A
// filter with a multi-letter tag constraint yields store.ErrUncountable.
func Count(ctx context.Context, db DB, d sqlbuild.Dialect, filters []nostr.Filter, scope store.Scope) (int64, error) {
	sql, args, err := sqlbuild.Count(d, filters, scope)
	if err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	if sql == "" {
		return 0, nil
	}
	var n int64
	if err := db.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	return n, nil
}
