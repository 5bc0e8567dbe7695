// Package sqlbuild writes the SQL that answers Nostr filters against the
// events/event_tags/channels tables both SQL stores share. What differs
// between engines (placeholders, list arguments, literals, what a text
// column can hold) is described by a Dialect, so the statement shapes, and
// the index use they are designed for, are written once.
package sqlbuild

import (
	"slices"
	"strconv"
	"strings"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Dialect describes how one SQL engine spells what this package writes.
type Dialect struct {
	// Numbered means placeholders are $1, $2, ..., so one bound argument
	// may be referenced twice, and a list travels as one array argument
	// compared with "= ANY($n)". Otherwise placeholders are "?" and a list
	// expands to "IN (?, ?, ...)".
	Numbered bool
	// True is the literal for a condition that always holds.
	True string
	// UnionInSubqueries wraps each member of a UNION ALL in
	// "SELECT * FROM (...)", for engines that allow ORDER BY and LIMIT in a
	// compound member only inside a subquery; otherwise members are
	// parenthesised.
	UnionInSubqueries bool
	// Text drops string values the engine's text columns cannot hold (no
	// stored column can equal them, so the filter matches the same). Nil
	// keeps every value.
	Text func([]string) []string
	// TagValue maps a tag value to what event_tags.value stores (see
	// eventrow.New). Nil compares verbatim.
	TagValue func(string) string
	// KindFits reports kinds the kind column can hold; others are dropped
	// from filters. Nil keeps every kind.
	KindFits func(int) bool
}

const (
	// DefaultLimit bounds a filter without a limit (the caller normally
	// clamps first).
	DefaultLimit = 1000
	// PostScanBudget is how many rows a filter with a multi-letter tag
	// constraint examines at most: SQL answers the rest of the filter,
	// newest first, and Go checks the multi-letter tags on at most this
	// many candidates. Matches older than that window are not returned.
	PostScanBudget = store.CountLimit
	// PostPage is the page size of that scan.
	PostPage = 500
)

// selectCols is what every event query reads; raw decodes to the event.
const selectCols = "SELECT e.id, e.created_at, e.raw FROM "

// orderBy is the result order: newest first, ties by id.
const orderBy = " ORDER BY e.created_at DESC, e.id"

// from is the FROM clause for a scope: a restricted read joins each event's
// channel row (primary-key lookup) to learn whether the channel is open.
func from(s store.Scope) string {
	if s.Unrestricted {
		return "events e WHERE "
	}
	return "events e LEFT JOIN channels c ON c.id = e.channel WHERE "
}

// LimitOf is how many events a filter may contribute.
func LimitOf(f *nostr.Filter) int {
	if f.Limit == nil {
		return DefaultLimit
	}
	return max(*f.Limit, 0)
}

// Builder accumulates positional arguments while SQL text is assembled.
type Builder struct {
	d    Dialect
	args []any
	// scopeSQL caches the scope condition when its argument can be
	// referenced again by number, so every UNION member shares it.
	scopeSQL *string
}

// NewBuilder starts a statement in dialect d.
func NewBuilder(d Dialect) *Builder { return &Builder{d: d} }

// Args returns the arguments bound so far, in placeholder order.
func (b *Builder) Args() []any { return b.args }

// Arg binds v and returns its placeholder.
func (b *Builder) Arg(v any) string {
	b.args = append(b.args, v)
	if b.d.Numbered {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

// eq compares col with one value, or with any of several. A single value
// uses "=" so that an index on col also yields the result order.
func eq[T any](b *Builder, col string, vals []T) string {
	if len(vals) == 1 {
		return col + " = " + b.Arg(vals[0])
	}
	if b.d.Numbered {
		return col + " = ANY(" + b.Arg(vals) + ")"
	}
	for _, v := range vals {
		b.args = append(b.args, v)
	}
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",") + ")"
}

func (b *Builder) text(vals []string) []string {
	if b.d.Text == nil {
		return vals
	}
	return b.d.Text(vals)
}

// cond returns f's constraints as SQL ("" for none; multi-letter tags left
// out), or ok=false, binding nothing, when f can match nothing.
func (b *Builder) cond(f *nostr.Filter) (sql string, ok bool) {
	mark := len(b.args)
	defer func() {
		if !ok {
			b.args = b.args[:mark]
		}
	}()
	var parts []string
	if f.IDs != nil {
		ids := b.text(f.IDs)
		if len(ids) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.id", ids))
	}
	if f.Authors != nil {
		authors := b.text(f.Authors)
		if len(authors) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.pubkey", authors))
	}
	if f.Kinds != nil {
		kinds := f.Kinds
		if b.d.KindFits != nil {
			kinds = make([]int, 0, len(f.Kinds))
			for _, k := range f.Kinds {
				if b.d.KindFits(k) {
					kinds = append(kinds, k)
				}
			}
		}
		if len(kinds) == 0 {
			return "", false
		}
		parts = append(parts, eq(b, "e.kind", kinds))
	}
	if f.Since != nil {
		parts = append(parts, "e.created_at >= "+b.Arg(*f.Since))
	}
	if f.Until != nil {
		parts = append(parts, "e.created_at <= "+b.Arg(*f.Until))
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
			chans := b.text(vals)
			if len(chans) == 0 {
				return "", false
			}
			parts = append(parts, eq(b, "e.channel", chans))
		case nostr.IsIndexedTagName(name):
			keys := vals
			if b.d.TagValue != nil {
				keys = make([]string, len(vals))
				for i, v := range vals {
					keys[i] = b.d.TagValue(v)
				}
			}
			parts = append(parts, "EXISTS (SELECT 1 FROM event_tags t WHERE t.event_id = e.id AND t.name = "+
				b.Arg(name)+" AND "+eq(b, "t.value", keys)+")")
		}
	}
	return strings.Join(parts, " AND "), true
}

// scope returns the read-scope condition, or "" when unrestricted. An
// event is readable when it has no channel, when the reader belongs to its
// channel, or when its channel's row (joined by from, one primary-key
// lookup per candidate row) says the channel is open. A LEFT JOIN rather
// than a correlated EXISTS because PostgreSQL would otherwise hash every
// open channel for each query. With numbered placeholders the text is
// built once per statement and its one array argument shared.
func (b *Builder) scope(s store.Scope) string {
	if s.Unrestricted {
		return ""
	}
	if b.scopeSQL != nil {
		return *b.scopeSQL
	}
	c := "(e.channel IS NULL"
	if chans := b.text(s.Channels); len(chans) > 0 {
		if b.d.Numbered {
			c += " OR e.channel = ANY(" + b.Arg(chans) + ")"
		} else {
			c += " OR " + eq(b, "e.channel", chans)
		}
	}
	c += " OR c.visibility = 'open')"
	if b.d.Numbered {
		b.scopeSQL = &c
	}
	return c
}

// Where joins a filter's condition and the scope, or returns ok=false
// (binding nothing) when the filter can match nothing.
func (b *Builder) Where(f *nostr.Filter, s store.Scope) (sql string, ok bool) {
	c, ok := b.cond(f)
	if !ok {
		return "", false
	}
	sc := b.scope(s)
	switch {
	case c == "" && sc == "":
		return b.d.True, true
	case c == "":
		return sc, true
	case sc == "":
		return c, true
	}
	return c + " AND " + sc, true
}

// After is the keyset condition for rows after (at, id) in result order.
func (b *Builder) After(at int64, id string) string {
	a := b.Arg(at)
	a2 := a
	if !b.d.Numbered {
		a2 = b.Arg(at)
	}
	return "(e.created_at < " + a + " OR (e.created_at = " + a2 + " AND e.id > " + b.Arg(id) + "))"
}

// Select is one limited, ordered event statement with where as its
// condition (from Where, possibly extended).
func Select(scope store.Scope, where string, limit int) string {
	return selectCols + from(scope) + where + orderBy + " LIMIT " + strconv.Itoa(limit)
}

// Query returns the one statement that answers every filter SQL can answer
// completely (a UNION ALL of one limited SELECT per filter) with its
// arguments, and the indexes of the filters that need a Go-side tag check.
// sql is "" when no filter needs SQL.
func Query(d Dialect, filters []nostr.Filter, scope store.Scope) (sql string, args []any, goFilters []int) {
	b := NewBuilder(d)
	var parts []string
	for i := range filters {
		f := &filters[i]
		lim := LimitOf(f)
		if lim == 0 {
			continue
		}
		if !f.SingleLetterTags() {
			goFilters = append(goFilters, i)
			continue
		}
		w, ok := b.Where(f, scope)
		if !ok {
			continue
		}
		parts = append(parts, Select(scope, w, lim))
	}
	switch len(parts) {
	case 0:
		return "", nil, goFilters
	case 1:
		return parts[0], b.args, goFilters
	}
	if d.UnionInSubqueries {
		return "SELECT * FROM (" + strings.Join(parts, ") UNION ALL SELECT * FROM (") + ")", b.args, goFilters
	}
	return "(" + strings.Join(parts, ") UNION ALL (") + ")", b.args, goFilters
}

// Count returns one statement counting the distinct events that match any
// filter within scope: a single scan with the filters OR-ed, so an event
// matching several filters counts once. sql is "" when no filter can match
// anything; a filter with a multi-letter tag constraint yields
// store.ErrUncountable.
func Count(d Dialect, filters []nostr.Filter, scope store.Scope) (sql string, args []any, err error) {
	b := NewBuilder(d)
	var conds []string
	for i := range filters {
		f := &filters[i]
		if !f.SingleLetterTags() {
			return "", nil, store.ErrUncountable
		}
		c, ok := b.cond(f)
		if !ok {
			continue
		}
		if c == "" {
			c = d.True
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
