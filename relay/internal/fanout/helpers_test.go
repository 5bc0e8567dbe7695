package fanout

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// recorder is a Subscriber that keeps every frame it accepts; full makes it
// refuse sends like a connection whose queue is full.
type recorder struct {
	pubkey string
	full   atomic.Bool

	mu     sync.Mutex
	frames [][]byte
}

func newRecorder(pubkey string) *recorder { return &recorder{pubkey: pubkey} }

func (r *recorder) Pubkey() string { return r.pubkey }

func (r *recorder) Deliver(_ string, _ *nostr.Event, frame []byte) bool {
	if r.full.Load() {
		return false
	}
	r.mu.Lock()
	r.frames = append(r.frames, frame)
	r.mu.Unlock()
	return true
}

func (r *recorder) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.frames
	r.frames = nil
	return out
}

// memberChecker is a small real ReadChecker: events of a private channel are
// readable by its members only, everything else by everyone. It counts calls.
type memberChecker struct {
	private map[string]map[string]bool // channel → member pubkeys
	calls   atomic.Int64
}

func (m *memberChecker) CanRead(_ context.Context, pubkey string, ev *nostr.Event) bool {
	m.calls.Add(1)
	for _, c := range ev.TagValues("h") {
		if members, ok := m.private[c]; ok && !members[pubkey] {
			return false
		}
	}
	return true
}

// allowAll lets everyone read everything.
type allowAll struct{}

func (allowAll) CanRead(context.Context, string, *nostr.Event) bool { return true }

// countingObserver sums what the index reports.
type countingObserver struct {
	subs      atomic.Int64
	deltas    atomic.Int64 // number of SubscriptionsChanged calls
	delivered atomic.Int64
	calls     atomic.Int64 // number of Delivered calls
}

func (o *countingObserver) SubscriptionsChanged(delta int) {
	o.subs.Add(int64(delta))
	o.deltas.Add(1)
}

func (o *countingObserver) Delivered(n int) {
	o.delivered.Add(int64(n))
	o.calls.Add(1)
}

func event(kind int, channel string, createdAt int64) *nostr.Event {
	ev := &nostr.Event{
		ID:        "0000000000000000000000000000000000000000000000000000000000000001",
		PubKey:    "00000000000000000000000000000000000000000000000000000000000000aa",
		CreatedAt: createdAt,
		Kind:      kind,
		Tags:      [][]string{},
		Content:   "hello",
	}
	if channel != "" {
		ev.Tags = append(ev.Tags, []string{"h", channel})
	}
	return ev
}

func kinds(k ...int) []int { return k }

func chans(c ...string) map[string][]string { return map[string][]string{"h": c} }

func ptr[T any](v T) *T { return &v }
