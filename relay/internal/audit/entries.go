package audit

import (
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Actions recorded in store.AuditEntry.Action.
const (
	// ActionEventStored: an event was stored. EventID, Kind and Channel (if
	// the event is in one) are set.
	ActionEventStored = "event.stored"
	// ActionMembershipPrefix precedes the membership change's own verb
	// ("membership.add", "membership.remove", ...).
	ActionMembershipPrefix = "membership."
	// ActionAllowlistPrefix precedes the allowlist change's own verb
	// ("allowlist.add", "allowlist.remove", ...).
	ActionAllowlistPrefix = "allowlist."
)

// maxField bounds each text field of an entry. Fields come from
// authenticated clients and operators; a bound keeps one odd request from
// producing an entry the database refuses, which would stall the writer.
const maxField = 4096

// EventStored is the entry for an event the relay stored. actor is the
// authenticated pubkey that sent it (which may differ from the author; the
// author is then named in Detail), channel the channel the event belongs to
// or "".
func EventStored(actor string, ev *nostr.Event, channel string) store.AuditEntry {
	e := store.AuditEntry{
		Time:    now(),
		Actor:   actor,
		Action:  ActionEventStored,
		Channel: channel,
	}
	if ev != nil {
		e.EventID = ev.ID
		e.Kind = ev.Kind
		if ev.PubKey != actor {
			e.Detail = detail(map[string]string{"author": ev.PubKey})
		}
	}
	return e
}

// MembershipChanged is the entry for a change to a channel's members: actor
// changed target's membership of channel; action is the verb ("add",
// "remove", "role", ...). Kind is 0 and EventID empty; a caller that knows
// the event which caused the change may set them.
func MembershipChanged(actor, channel, target, action string) store.AuditEntry {
	return store.AuditEntry{
		Time:    now(),
		Actor:   actor,
		Action:  ActionMembershipPrefix + action,
		Channel: channel,
		Detail:  detail(map[string]string{"target": target}),
	}
}

// AllowlistChanged is the entry for a change to the pubkey allowlist: actor
// (an operator identity or an admin pubkey) applied action ("add",
// "remove") to pubkey.
func AllowlistChanged(actor, pubkey, action string) store.AuditEntry {
	return store.AuditEntry{
		Time:   now(),
		Actor:  actor,
		Action: ActionAllowlistPrefix + action,
		Detail: detail(map[string]string{"pubkey": pubkey}),
	}
}

// now is the current time as the chain stores it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// detail encodes a small JSON object; encoding/json sorts map keys, so the
// text is deterministic.
func detail(m map[string]string) string {
	b, err := json.Marshal(m)
	if err != nil { // cannot happen for map[string]string
		return ""
	}
	return string(b)
}

// normalize makes e storable and its hash stable: the time is set if
// missing and cut to microseconds in UTC (what both databases keep), and
// text fields are valid UTF-8 without NUL bytes (PostgreSQL text refuses
// both) and at most maxField bytes. Done before queueing, so the entry the
// store hashes is exactly the one it keeps.
func normalize(e *store.AuditEntry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Actor = cleanText(e.Actor)
	e.Action = cleanText(e.Action)
	e.EventID = cleanText(e.EventID)
	e.Channel = cleanText(e.Channel)
	e.Detail = cleanText(e.Detail)
	if e.Kind < math.MinInt32 || e.Kind > math.MaxInt32 {
		// The databases keep kind as a 32-bit integer; a wider value
		// (the parser never produces one) would be stored altered and
		// break the chain, so it is recorded as -1 instead.
		e.Kind = -1
	}
	e.Seq, e.PrevHash, e.Hash = 0, nil, nil
}

func cleanText(s string) string {
	if len(s) > maxField {
		s = s[:maxField]
	}
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) > maxField { // replacements can grow it
		s = strings.ToValidUTF8(s[:maxField], "")
	}
	return s
}
