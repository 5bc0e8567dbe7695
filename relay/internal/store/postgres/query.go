package postgres

import (
	"context"
	"math"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/eventquery"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlbuild"
)

// dialect is how PostgreSQL spells the shared event statements: numbered
// placeholders with array arguments, text that cannot hold NUL, long tag
// values hashed (tagKey) and an integer kind column.
var dialect = sqlbuild.Dialect{
	Numbered: true,
	True:     "TRUE",
	Text:     textSafe,
	TagValue: tagKey,
	KindFits: func(k int) bool { return k >= 0 && k <= math.MaxInt32 },
}

// Query returns the events matching any filter within scope, newest first.
func (s *Store) Query(ctx context.Context, filters []nostr.Filter, scope store.Scope) ([]*nostr.Event, error) {
	return eventquery.Query(ctx, s.db, dialect, filters, scope)
}

// Count returns how many distinct events match any filter within scope.
// A filter with a multi-letter tag constraint yields store.ErrUncountable.
func (s *Store) Count(ctx context.Context, filters []nostr.Filter, scope store.Scope) (int64, error) {
	return eventquery.Count(ctx, s.db, dialect, filters, scope)
}
