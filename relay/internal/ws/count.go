package ws

import (
	"context"
	"maps"

	"github.com/buzzrelay/buzz/relay/internal/ingest"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/telemetry"
)

// countRejected is the CLOSED message when a fallback count would need to
// look at more candidates than CountLimit (spec §8).
const countRejected = "restricted: count filter requires narrower constraints"

func (c *Conn) handleCount(ctx context.Context, subID string, filters []nostr.Filter) {
	ctx, span, scope, ok := c.openRead(ctx, "COUNT", telemetry.SpanCount, subID, filters)
	defer span.End()
	if !ok {
		return
	}
	cctx, cspan := c.h.Tracer.Start(ctx, telemetry.SpanStorePrefix+"count")
	n, ok, err := countEvents(cctx, c.h.Store, filters, scope)
	cspan.End()
	switch {
	case err != nil:
		c.log.Error("count failed", "error", err)
		_ = c.reply(ctx, nostr.ClosedFrame(subID, ingest.InternalError))
	case !ok:
		c.h.Metrics.CountFallbackRejections.Inc()
		_ = c.reply(ctx, nostr.ClosedFrame(subID, countRejected))
	default:
		_ = c.reply(ctx, nostr.CountFrame(subID, n))
	}
}

// countEvents counts the distinct events a REQ with these filters would
// return, ignoring limits. Filters the store can count run as one store-side
// count; otherwise the store's index-able part of every filter selects at most
// CountLimit+1 candidates, each checked against the full filters in memory.
// ok is false when that would take more than CountLimit candidates.
func countEvents(ctx context.Context, r Reader, filters []nostr.Filter, scope store.Scope) (n int64, ok bool, err error) {
	storeSide := true
	for i := range filters {
		if !filters[i].SingleLetterTags() {
			storeSide = false
			break
		}
	}
	if storeSide {
		n, err := r.Count(ctx, filters, scope)
		return n, err == nil, err
	}
	// One filter at a time, so at most CountLimit+1 decoded events are held
	// at once, and the scan stops as soon as the distinct candidates pass
	// the limit.
	seen := make(map[string]bool) // id -> matches the full filters
	for _, f := range filters {
		f.Tags = maps.Clone(f.Tags)
		maps.DeleteFunc(f.Tags, func(name string, _ []string) bool { return len(name) != 1 })
		limit := store.CountLimit + 1
		f.Limit = &limit
		candidates, err := r.Query(ctx, []nostr.Filter{f}, scope)
		if err != nil {
			return 0, false, err
		}
		for _, ev := range candidates {
			if _, dup := seen[ev.ID]; !dup {
				seen[ev.ID] = nostr.MatchesAny(filters, ev)
			}
		}
		if len(seen) > store.CountLimit {
			return 0, false, nil
		}
	}
	for _, match := range seen {
		if match {
			n++
		}
	}
	return n, true, nil
}
