package nostr

import (
	"fmt"
	"strings"
	"testing"
)

func benchEvent(b *testing.B) *Event {
	b.Helper()
	sk, err := GeneratePrivateKey()
	if err != nil {
		b.Fatal(err)
	}
	e := &Event{
		CreatedAt: 1700000000,
		Kind:      KindChatMessage,
		Tags: [][]string{
			{"h", "6f1c9f4a-1e7d-4a53-9b2f-0f3c1a2b3c4d"},
			{"e", strings.Repeat("1", 64), "wss://relay.example.com", "reply"},
			{"p", strings.Repeat("2", 64)},
		},
		Content: "Deploy is done — the new \"relay\" build is live on staging.\nPlease test /login and report back 👍",
	}
	if err := e.Sign(sk); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkParseVerify is the per-event ingest cost: parse an EVENT frame,
// recompute the id and verify the signature.
func BenchmarkParseVerify(b *testing.B) {
	frame := append(append([]byte(`["EVENT",`), benchEvent(b).AppendJSON(nil)...), ']')
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseMessage(frame)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.(*EventMessage).Event.Check(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse isolates the parsing share of BenchmarkParseVerify.
func BenchmarkParse(b *testing.B) {
	frame := append(append([]byte(`["EVENT",`), benchEvent(b).AppendJSON(nil)...), ']')
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMessage(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilterMatch is one event against one realistic filter (authors,
// kinds, #h over a handful of channels), the fan-out confirmation step.
func BenchmarkFilterMatch(b *testing.B) {
	channels := make([]string, 10)
	for i := range channels {
		channels[i] = fmt.Sprintf("6f1c9f4a-1e7d-4a53-9b2f-0f3c1a2b3c%02d", i)
	}
	authors := make([]string, 5)
	for i := range authors {
		authors[i] = strings.Repeat(fmt.Sprintf("%x", i+3), 64)
	}
	e := benchEvent(b)
	f := Filter{Authors: append(authors, e.PubKey), Kinds: []int{KindChatMessage, KindDeletion}, Tags: map[string][]string{"h": append(channels, e.Tags[0][1])}}
	if !f.Matches(e) {
		b.Fatal("benchmark filter should match")
	}
	miss := *e
	miss.Tags = [][]string{{"h", "other-channel"}, {"p", strings.Repeat("2", 64)}}
	b.Run("match", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !f.Matches(e) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("miss_on_h", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if f.Matches(&miss) {
				b.Fatal("match")
			}
		}
	})
}

// BenchmarkSerialize covers the canonical form (hashed for the id) and the
// wire frame sent to subscribers.
func BenchmarkSerialize(b *testing.B) {
	e := benchEvent(b)
	b.Run("canonical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.Serialize()
		}
	})
	b.Run("event_frame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = EventFrame("sub-1", e)
		}
	})
	b.Run("compute_id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.ComputeID()
		}
	})
}
