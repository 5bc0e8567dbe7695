// Package saverule holds the decisions Save makes the same way in every SQL
// store: which events may be stored at all, and, given what the store read
// under its lock (however the dialect takes that lock), whether the new
// event is a duplicate, deleted, superseded or names an unknown channel.
package saverule

import (
	"fmt"
	"strings"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/eventrow"
)

// Prepare refuses events no store keeps and encodes the rest (tagValue as
// for eventrow.New). A channel id holding NUL cannot name a stored channel.
func Prepare(ev *nostr.Event, tagValue func(string) string) (eventrow.Row, error) {
	if nostr.IsEphemeral(ev.Kind) {
		return eventrow.Row{}, fmt.Errorf("store: save: ephemeral kind %d is never stored", ev.Kind)
	}
	r := eventrow.New(ev, tagValue)
	if strings.ContainsRune(r.Channel, 0) {
		return eventrow.Row{}, fmt.Errorf("store: save: channel %w", store.ErrNotFound)
	}
	return r, nil
}

// Stored is what a save reads about the event's id, slot and channel
// before writing. The pointers are nil where the row does not exist.
type Stored struct {
	// Deleted: an id tombstone by the same author exists.
	Deleted bool
	// Duplicate: an event with this id is stored.
	Duplicate bool
	// AddrDeletedUntil is the slot's a-tag tombstone.
	AddrDeletedUntil *int64
	// CurrentAt and CurrentID describe the event now in the slot.
	CurrentAt *int64
	CurrentID *string
	// ChannelExists: the event has no channel or its channel exists.
	ChannelExists bool
}

// Check returns why r may not be saved over st with change applied in the
// same transaction, or nil. Ties between versions go to the lower id.
func Check(r eventrow.Row, st Stored, change *store.ChannelChange) error {
	ev := r.Event
	switch {
	case st.Deleted:
		return store.ErrDeleted
	case st.Duplicate:
		return store.ErrDuplicate
	case st.AddrDeletedUntil != nil && ev.CreatedAt <= *st.AddrDeletedUntil:
		return store.ErrDeleted
	case st.CurrentAt != nil && (*st.CurrentAt > ev.CreatedAt || (*st.CurrentAt == ev.CreatedAt && *st.CurrentID < ev.ID)):
		return store.ErrSuperseded
	}
	creating := change != nil && change.Create != nil && change.Create.ID == r.Channel
	if r.Channel != "" && !st.ChannelExists && !creating {
		return fmt.Errorf("store: save: channel %w", store.ErrNotFound)
	}
	return nil
}
