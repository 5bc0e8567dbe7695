package redisbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// envelopeVersion is the message format version; a node drops messages of a
// version it does not know (a rolling upgrade that changes the format must
// bump it and keep reading the old one for a release).
const envelopeVersion = 1

// outbound is one queued message: an event (with the span context of the
// message that produced it) or an invalidation.
type outbound struct {
	ev  *nostr.Event
	sc  trace.SpanContext
	inv *access.Invalidation
	// size estimates the encoded message, for the queue's byte bound.
	size int64
}

// eventSize estimates the encoded size of ev's message: its variable parts
// plus a generous allowance for the fixed ones (id, pubkey, sig, envelope).
func eventSize(ev *nostr.Event) int64 {
	n := 400 + len(ev.Content)
	for _, t := range ev.Tags {
		for _, v := range t {
			n += len(v) + 4
		}
	}
	return int64(n)
}

// invalidationSize estimates the encoded size of inv's message.
func invalidationSize(inv *access.Invalidation) int64 {
	n := 100 + len(inv.Channel)
	for _, p := range inv.Pubkeys {
		n += len(p) + 3
	}
	return int64(n)
}

// inbound is one received message on its way to the worker.
type inbound struct {
	inv     bool // came on the invalidation topic
	payload string
}

// envelope is the decoded form of a message.
type envelope struct {
	V      int                  `json:"v"`
	Origin string               `json:"o"`
	Trace  map[string]string    `json:"tc,omitempty"`
	Event  json.RawMessage      `json:"ev,omitempty"`
	Inv    *access.Invalidation `json:"inv,omitempty"`
}

// envelopePrefix is how every message of origin starts, so a node can drop
// its own echo without decoding it.
func envelopePrefix(origin string) string {
	return fmt.Sprintf(`{"v":%d,"o":%q`, envelopeVersion, origin)
}

// appendEventEnvelope encodes an event message. It is written by hand, in
// the field order of envelope, so the prefix is exact and the event's JSON
// is not re-scanned.
func appendEventEnvelope(b []byte, prefix string, tc map[string]string, ev *nostr.Event) []byte {
	b = append(b, prefix...)
	if len(tc) > 0 {
		b = append(b, `,"tc":{`...)
		keys := make([]string, 0, len(tc))
		for k := range tc {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = nostr.AppendString(b, k)
			b = append(b, ':')
			b = nostr.AppendString(b, tc[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"ev":`...)
	b = ev.AppendJSON(b)
	return append(b, '}')
}

// appendInvalidationEnvelope encodes an invalidation message.
func appendInvalidationEnvelope(b []byte, prefix string, inv *access.Invalidation) ([]byte, error) {
	body, err := json.Marshal(inv)
	if err != nil {
		return nil, fmt.Errorf("encode invalidation: %w", err)
	}
	b = append(b, prefix...)
	b = append(b, `,"inv":`...)
	b = append(b, body...)
	return append(b, '}'), nil
}

var errVersion = errors.New("unknown envelope version")

// decodeEnvelope parses a message; the event, if any, is parsed strictly.
func decodeEnvelope(payload string) (envelope, *nostr.Event, error) {
	var env envelope
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		return env, nil, fmt.Errorf("decode envelope: %w", err)
	}
	if env.V != envelopeVersion {
		return env, nil, fmt.Errorf("%w %d", errVersion, env.V)
	}
	if len(env.Event) == 0 {
		return env, nil, nil
	}
	ev, err := nostr.ParseEvent(env.Event)
	if err != nil {
		return env, nil, fmt.Errorf("decode event: %w", err)
	}
	return env, ev, nil
}

// eventTopics returns the topics ev is published to: each distinct channel
// it names in an h tag, then the global topic.
func (b *Bus) eventTopics(ev *nostr.Event, dst []string) []string {
	start := len(dst)
	for _, t := range ev.Tags {
		if len(t) < 2 || t[0] != "h" || t[1] == "" {
			continue
		}
		topic := b.ChannelTopic(t[1])
		if !slices.Contains(dst[start:], topic) {
			dst = append(dst, topic)
		}
	}
	return append(dst, b.globalT)
}
