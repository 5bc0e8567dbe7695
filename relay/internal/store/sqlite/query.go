package sqlite

import (
	"context"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/eventquery"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlbuild"
)

// dialect is how SQLite spells the shared event statements: "?"
// placeholders with lists expanded, 1 for true, and ORDER BY/LIMIT inside
// a compound SELECT only in subqueries. Its text columns hold any value,
// so filter values and tag values are compared verbatim.
var dialect = sqlbuild.Dialect{
	True:              "1",
	UnionInSubqueries: true,
}

// Query returns the events matching any filter within scope, newest first.
func (s *Store) Query(ctx context.Context, filters []nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	return eventquery.Query(ctx, s.conn, dialect, filters, scope)
}

// Count returns how many distinct events match any filter within scope:
// one scan with the filters OR-ed, so an event matching several counts
// once. A filter with a multi-letter tag constraint yields
// store.ErrUncountable.
func (s *Store) Count(ctx context.Context, filters []nostr.Filter, scope store.Scope) (int64, error) {
	return eventquery.Count(ctx, s.conn, dialect, filters, scope)
}
