// Package eventrow turns Nostr events into the column values both SQL
// stores write (events, event_tags, replace keys, deletion targets) and
// decodes the stored raw column back into events. The table layout is the
// same in every dialect, so this encoding is written once; the only
// dialect choice, how a tag value is stored, is a parameter.
package eventrow

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Row is an event prepared for the tables: the columns it fills and the
// tag rows it indexes.
type Row struct {
	Event      *nostr.Event
	Channel    string // "" when the event has no h tag
	ReplaceKey []byte // nil unless replaceable or addressable
	Raw        string
	TagNames   []string
	TagValues  []string
}

// New encodes ev. tagValue maps a tag value to what event_tags.value holds
// (nil stores values verbatim); duplicate (name, stored value) pairs are
// dropped because they are the table's primary key.
func New(ev *nostr.Event, tagValue func(string) string) Row {
	r := Row{Event: ev, Raw: string(ev.AppendJSON(nil))}
	r.Channel, _ = ev.Tag("h")
	switch {
	case nostr.IsReplaceable(ev.Kind):
		r.ReplaceKey = ReplaceKey(ev.PubKey, ev.Kind, "")
	case nostr.IsAddressable(ev.Kind):
		r.ReplaceKey = ReplaceKey(ev.PubKey, ev.Kind, ev.DTag())
	}
	seen := map[[2]string]bool{}
	for _, t := range ev.Tags {
		if len(t) < 2 || !IndexedTag(t[0]) {
			continue
		}
		v := t[1]
		if tagValue != nil {
			v = tagValue(v)
		}
		k := [2]string{t[0], v}
		if seen[k] {
			continue
		}
		seen[k] = true
		r.TagNames = append(r.TagNames, k[0])
		r.TagValues = append(r.TagValues, k[1])
	}
	return r
}

// IndexedTag reports the tags event_tags holds: single-letter ones, except
// h which lives in events.channel.
func IndexedTag(name string) bool { return nostr.IsIndexedTagName(name) && name != "h" }

// ReplaceKey identifies the slot a replaceable or addressable event
// occupies: sha256("pubkey:kind:d"), hashed so long d tags stay indexable.
func ReplaceKey(pubkey string, kind int, d string) []byte {
	sum := sha256.Sum256([]byte(pubkey + ":" + strconv.Itoa(kind) + ":" + d))
	return sum[:]
}

// Decode parses a stored raw column.
func Decode(raw string) (*nostr.Event, error) {
	var ev nostr.Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		return nil, fmt.Errorf("store: decode stored event: %w", err)
	}
	if ev.Tags == nil {
		ev.Tags = [][]string{}
	}
	return &ev, nil
}

// DeletionTargets extracts what a kind 5 event deletes: ids from e tags and
// replace keys (with the author's own pubkey only) from a tags, each once.
func DeletionTargets(ev *nostr.Event) (ids []string, keys [][]byte) {
	seenID := map[string]bool{}
	seenKey := map[string]bool{}
	for _, t := range ev.Tags {
		if len(t) < 2 {
			continue
		}
		switch t[0] {
		case "e":
			if nostr.IsHex(t[1], 64) && !seenID[t[1]] {
				seenID[t[1]] = true
				ids = append(ids, t[1])
			}
		case "a":
			if k, ok := addressKey(t[1], ev.PubKey); ok && !seenKey[string(k)] {
				seenKey[string(k)] = true
				keys = append(keys, k)
			}
		}
	}
	return ids, keys
}

// addressKey parses an a tag value "kind:pubkey:d" into its replace key,
// accepting only the author's own replaceable or addressable slots.
func addressKey(addr, author string) ([]byte, bool) {
	kindStr, rest, ok := strings.Cut(addr, ":")
	if !ok {
		return nil, false
	}
	pubkey, d, _ := strings.Cut(rest, ":")
	kind, err := strconv.Atoi(kindStr)
	if err != nil || pubkey != author {
		return nil, false
	}
	switch {
	case nostr.IsReplaceable(kind):
		d = ""
	case !nostr.IsAddressable(kind):
		return nil, false
	}
	return ReplaceKey(pubkey, kind, d), true
}
