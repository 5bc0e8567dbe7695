package fanout

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// hookLog records interest transitions and the resulting active set.
type hookLog struct {
	mu     sync.Mutex
	events []string
	active map[string]bool
	bad    []string // transitions that were not transitions
}

func newHookLog() *hookLog { return &hookLog{active: make(map[string]bool)} }

func (h *hookLog) hook(channel string, active bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.active[channel] == active {
		h.bad = append(h.bad, fmt.Sprintf("%q already %v", channel, active))
	}
	if active {
		h.active[channel] = true
	} else {
		delete(h.active, channel)
	}
	h.events = append(h.events, fmt.Sprintf("%s:%v", channel, active))
}

func (h *hookLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.events
	h.events = nil
	return out
}

// Interest counts only values that can name a channel (lowercase UUIDs);
// these sort in the order of their names.
const (
	chA = "0a000000-0000-4000-8000-000000000000"
	chB = "0b000000-0000-4000-8000-000000000000"
	chC = "0c000000-0000-4000-8000-000000000000"
	chZ = "0f000000-0000-4000-8000-000000000000"
)

func TestInterestHookFiresOnFirstAndLast(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	log := newHookLog()
	ix.SetInterestHook(log.hook)
	a, b := newRecorder("a"), newRecorder("b")

	step := func(what string, do func(), want ...string) {
		t.Helper()
		do()
		// One call may cause several transitions in any order (UnsubscribeAll).
		got := log.take()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: hook saw %v, want %v", what, got, want)
		}
	}
	step("first on A", func() { ix.Subscribe(a, "1", []nostr.Filter{{Tags: chans(chA)}}) }, chA+":true")
	step("replace keeping the only A", func() { ix.Subscribe(a, "1", []nostr.Filter{{Tags: chans(chA), Kinds: kinds(9)}}) })
	step("second on A", func() { ix.Subscribe(b, "1", []nostr.Filter{{Tags: chans(chA)}}) })
	step("global and A again", func() {
		ix.Subscribe(a, "2", []nostr.Filter{{Kinds: kinds(9)}, {Tags: chans(chA, chB, "")}})
	}, ":true", chB+":true")
	step("matches-nothing filter", func() { ix.Subscribe(a, "3", []nostr.Filter{{Tags: chans(chZ), Kinds: []int{}}}) })

	chs, global := ix.Channels()
	if !slices.Equal(chs, []string{chA, chB}) || !global {
		t.Fatalf("Channels = %v, %v", chs, global)
	}

	step("replace keeping A", func() { ix.Subscribe(a, "1", []nostr.Filter{{Tags: chans(chA, chC)}}) }, chC+":true")
	step("one of two A leaves", func() { ix.Unsubscribe(b, "1") })
	step("replace dropping B and global", func() { ix.Subscribe(a, "2", []nostr.Filter{{Tags: chans(chA)}}) }, ":false", chB+":false")
	step("connection closes", func() { ix.UnsubscribeAll(a) }, chA+":false", chC+":false")

	chs, global = ix.Channels()
	if len(chs) != 0 || global {
		t.Fatalf("Channels after all closed = %v, %v", chs, global)
	}
	if len(log.bad) != 0 {
		t.Fatalf("non-transitions: %v", log.bad)
	}
}

func TestSetInterestHookReplaysCurrentState(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	r := newRecorder("a")
	ix.Subscribe(r, "1", []nostr.Filter{{Tags: chans(chB, chA)}, {}})
	log := newHookLog()
	ix.SetInterestHook(log.hook)
	if got := log.take(); !slices.Equal(got, []string{":true", chA + ":true", chB + ":true"}) {
		t.Fatalf("replay = %v", got)
	}
	ix.UnsubscribeAll(r)
	if got := log.take(); len(got) != 3 {
		t.Fatalf("after close hook saw %v", got)
	}
	ix.SetInterestHook(nil)
	ix.Subscribe(r, "1", []nostr.Filter{{}})
	if got := log.take(); len(got) != 0 {
		t.Fatalf("removed hook still called: %v", got)
	}
}

// TestInterestHookMayReadChannels checks that the hook runs without the
// index lock held.
func TestInterestHookMayReadChannels(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	var seen [][]string
	ix.SetInterestHook(func(string, bool) {
		chs, _ := ix.Channels()
		seen = append(seen, chs)
	})
	ix.Subscribe(newRecorder("a"), "1", []nostr.Filter{{Tags: chans(chA)}})
	if len(seen) != 1 || !slices.Equal(seen[0], []string{chA}) {
		t.Fatalf("hook saw %v", seen)
	}
}

// TestInterestIgnoresValuesThatCannotNameAChannel: a client cannot make the
// node subscribe to arbitrary topics with junk #h values.
func TestInterestIgnoresValuesThatCannotNameAChannel(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	log := newHookLog()
	ix.SetInterestHook(log.hook)
	ix.Subscribe(newRecorder("a"), "1", []nostr.Filter{{Tags: chans("junk", "0A000000-0000-4000-8000-000000000000", chA)}})
	if got := log.take(); !slices.Equal(got, []string{chA + ":true"}) {
		t.Fatalf("hook saw %v, want only %s", got, chA)
	}
	if chs, global := ix.Channels(); !slices.Equal(chs, []string{chA}) || global {
		t.Fatalf("Channels = %v, %v", chs, global)
	}
}
