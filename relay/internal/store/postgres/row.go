package postgres

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// row is an event prepared for the tables: the columns it fills and the
// tag rows it indexes.
type row struct {
	ev         *nostr.Event
	channel    string // "" when the event has no h tag
	replaceKey []byte // nil unless replaceable or addressable
	raw        string
	tagNames   []string
	tagValues  []string
}

func newRow(ev *nostr.Event) row {
	r := row{ev: ev, raw: string(ev.AppendJSON(nil))}
	r.channel, _ = ev.Tag("h")
	switch {
	case nostr.IsReplaceable(ev.Kind):
		r.replaceKey = replaceKey(ev.PubKey, ev.Kind, "")
	case nostr.IsAddressable(ev.Kind):
		r.replaceKey = replaceKey(ev.PubKey, ev.Kind, ev.DTag())
	}
	seen := map[[2]string]bool{}
	for _, t := range ev.Tags {
		if len(t) < 2 || !indexedTag(t[0]) {
			continue
		}
		k := [2]string{t[0], tagKey(t[1])}
		if seen[k] {
			continue
		}
		seen[k] = true
		r.tagNames = append(r.tagNames, k[0])
		r.tagValues = append(r.tagValues, k[1])
	}
	return r
}

// indexedTag reports the tags event_tags holds: single-letter ones, except h
// which lives in events.channel.
func indexedTag(name string) bool { return len(name) == 1 && name != "h" }

// replaceKey identifies the slot a replaceable or addressable event occupies.
func replaceKey(pubkey string, kind int, d string) []byte {
	sum := sha256.Sum256([]byte(pubkey + ":" + strconv.Itoa(kind) + ":" + d))
	return sum[:]
}

// lockKey turns a key into the bigint an advisory lock takes.
func lockKey(key []byte) int64 {
	return int64(binary.BigEndian.Uint64(key[:8]))
}

// idLockKey is the advisory lock serialising saves and deletions of one id.
func idLockKey(id string) int64 {
	sum := sha256.Sum256([]byte("id:" + id))
	return lockKey(sum[:])
}

// maxTagValue is the longest tag value stored verbatim in event_tags.
const maxTagValue = 256

// tagKey maps a tag value to what event_tags stores: the value itself, or
// for long values and values PostgreSQL text cannot hold (NUL) a marker
// byte and the value's sha256. The marker never starts a verbatim value
// (such values are hashed too), so the mapping stays one to one.
func tagKey(v string) string {
	if len(v) <= maxTagValue && !strings.ContainsRune(v, 0) && !strings.HasPrefix(v, "\x01") {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "\x01" + hex.EncodeToString(sum[:])
}

// textSafe drops values PostgreSQL text cannot hold; no stored column can
// equal them, so dropping them from a filter changes nothing it matches.
func textSafe(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !strings.ContainsRune(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

// decodeEvent parses a stored raw column.
func decodeEvent(raw string) (*nostr.Event, error) {
	var ev nostr.Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		return nil, fmt.Errorf("store: decode stored event: %w", err)
	}
	if ev.Tags == nil {
		ev.Tags = [][]string{}
	}
	return &ev, nil
}

// deletionTargets extracts what a kind 5 event deletes: ids from e tags and
// replace keys (with the author's own pubkey only) from a tags.
func deletionTargets(ev *nostr.Event) (ids []string, keys [][]byte) {
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
			kindStr, rest, ok := strings.Cut(t[1], ":")
			if !ok {
				continue
			}
			pubkey, d, _ := strings.Cut(rest, ":")
			kind, err := strconv.Atoi(kindStr)
			if err != nil || pubkey != ev.PubKey {
				continue
			}
			if !nostr.IsReplaceable(kind) && !nostr.IsAddressable(kind) {
				continue
			}
			if nostr.IsReplaceable(kind) {
				d = ""
			}
			k := replaceKey(pubkey, kind, d)
			if !seenKey[string(k)] {
				seenKey[string(k)] = true
				keys = append(keys, k)
			}
		}
	}
	return ids, keys
}
