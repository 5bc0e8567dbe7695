package fanout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// frameSubID returns the subscription id of an EVENT frame and checks the
// frame's shape.
func frameSubID(t *testing.T, frame []byte) string {
	t.Helper()
	var parts []json.RawMessage
	if err := json.Unmarshal(frame, &parts); err != nil || len(parts) != 3 {
		t.Fatalf("not an EVENT frame: %s (%v)", frame, err)
	}
	var typ, id string
	if err := json.Unmarshal(parts[0], &typ); err != nil || typ != "EVENT" {
		t.Fatalf("frame type %s", parts[0])
	}
	if err := json.Unmarshal(parts[1], &id); err != nil {
		t.Fatalf("frame sub id %s", parts[1])
	}
	return id
}

// received returns, per recorder name, the subscription ids it got frames for.
func received(t *testing.T, recs map[string]*recorder) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for name, r := range recs {
		for _, f := range r.take() {
			out[name] = append(out[name], frameSubID(t, f))
		}
	}
	for name := range out {
		slices.Sort(out[name])
	}
	return out
}

func TestDeliverSelectsMatchingBuckets(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	subs := map[string][]nostr.Filter{
		"chA":      {{Tags: chans("A")}},
		"chAk9":    {{Tags: chans("A"), Kinds: kinds(9)}},
		"chAk1":    {{Tags: chans("A"), Kinds: kinds(1)}},
		"chB":      {{Tags: chans("B")}},
		"chAB":     {{Tags: chans("A", "B"), Kinds: kinds(9, 1)}},
		"global":   {{}},
		"globalK9": {{Kinds: kinds(9)}},
		"globalK1": {{Kinds: kinds(1)}},
		// Two filters that both match (A, 9) and sit in different buckets:
		// still one frame.
		"multi": {{Tags: chans("A"), Kinds: kinds(9)}, {Kinds: kinds(9)}},
		// Matches nothing: empty kinds list.
		"none": {{Kinds: []int{}}},
		// Author constraint that the events do not meet.
		"author": {{Kinds: kinds(9), Authors: []string{"bb"}}},
	}
	recs := make(map[string]*recorder)
	for name, filters := range subs {
		recs[name] = newRecorder("pk-" + name)
		ix.Subscribe(recs[name], name, filters)
	}

	cases := []struct {
		name string
		ev   *nostr.Event
		want []string
	}{
		{"channel A kind 9", event(9, "A", 100), []string{"chA", "chAB", "chAk9", "global", "globalK9", "multi"}},
		{"channel B kind 1", event(1, "B", 100), []string{"chAB", "chB", "global", "globalK1"}},
		{"channel B kind 7", event(7, "B", 100), []string{"chB", "global"}},
		{"no channel kind 9", event(9, "", 100), []string{"global", "globalK9", "multi"}},
		{"no channel kind 1", event(1, "", 100), []string{"global", "globalK1"}},
		{"ephemeral in A", event(20001, "A", 100), []string{"chA", "global"}},
		{"unknown channel C", event(9, "C", 100), []string{"global", "globalK9", "multi"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := ix.Deliver(context.Background(), tc.ev)
			got := received(t, recs)
			var names []string
			for name, ids := range got {
				if len(ids) != 1 || ids[0] != name {
					t.Errorf("%s got frames for %v, want exactly one for %q", name, ids, name)
				}
				names = append(names, name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.want) {
				t.Errorf("delivered to %v, want %v", names, tc.want)
			}
			if n != len(tc.want) {
				t.Errorf("Deliver returned %d, want %d", n, len(tc.want))
			}
		})
	}
}

func TestDeliverEventWithSeveralChannels(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	a, b, both := newRecorder("a"), newRecorder("b"), newRecorder("ab")
	ix.Subscribe(a, "s", []nostr.Filter{{Tags: chans("A")}})
	ix.Subscribe(b, "s", []nostr.Filter{{Tags: chans("B"), Kinds: kinds(9)}})
	ix.Subscribe(both, "s", []nostr.Filter{{Tags: chans("A", "B")}})
	ev := event(9, "A", 1)
	ev.Tags = append(ev.Tags, []string{"h", "B"}, []string{"h", "A"})
	if n := ix.Deliver(context.Background(), ev); n != 3 {
		t.Fatalf("Deliver = %d, want 3", n)
	}
	for _, r := range []*recorder{a, b, both} {
		if got := len(r.take()); got != 1 {
			t.Errorf("%s got %d frames, want 1", r.pubkey, got)
		}
	}
}

// TestDeliverPropertyRegressions pins the two cases the property test once
// found: an #h filter naming the empty channel (with the event also in
// another channel), and a subscription whose wildcard and channel filters
// sit in different buckets, which must still get one frame.
func TestDeliverPropertyRegressions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		filters []nostr.Filter
		hs      []string
	}{
		{"empty channel", []nostr.Filter{{Tags: chans("")}}, []string{"A", ""}},
		{"wildcard and channel", []nostr.Filter{{}, {Tags: chans("C")}}, []string{"C"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := NewIndex(allowAll{}, nil)
			r := newRecorder("a")
			ix.Subscribe(r, "s0", tc.filters)
			ev := event(5, "", 0)
			for _, h := range tc.hs {
				ev.Tags = append(ev.Tags, []string{"h", h})
			}
			if n := ix.Deliver(context.Background(), ev); n != 1 {
				t.Fatalf("Deliver = %d, want 1", n)
			}
			if got := len(r.take()); got != 1 {
				t.Errorf("got %d frames, want 1", got)
			}
		})
	}
}

func TestReplacedSubscriptionGetsOnlyNewFilter(t *testing.T) {
	obs := &countingObserver{}
	ix := NewIndex(allowAll{}, obs)
	r := newRecorder("p")
	ix.Subscribe(r, "s", []nostr.Filter{{Tags: chans("A")}})
	ix.Subscribe(r, "s", []nostr.Filter{{Tags: chans("B")}})
	if c := ix.Count(r); c != 1 {
		t.Fatalf("Count = %d after replacement, want 1", c)
	}
	if n := ix.Deliver(context.Background(), event(9, "A", 1)); n != 0 {
		t.Errorf("old filter still delivers: %d", n)
	}
	if n := ix.Deliver(context.Background(), event(9, "B", 1)); n != 1 {
		t.Errorf("new filter delivers %d, want 1", n)
	}
	if got := len(r.take()); got != 1 {
		t.Errorf("recorder has %d frames, want 1", got)
	}
	if obs.subs.Load() != 1 || obs.deltas.Load() != 1 {
		t.Errorf("observer subs=%d calls=%d, want 1 and 1 (a replacement is not a change)", obs.subs.Load(), obs.deltas.Load())
	}
	if obs.calls.Load() != 2 || obs.delivered.Load() != 1 {
		t.Errorf("observer Delivered calls=%d sum=%d, want 2 and 1", obs.calls.Load(), obs.delivered.Load())
	}
}

func TestUnsubscribedGetsNothing(t *testing.T) {
	obs := &countingObserver{}
	ix := NewIndex(allowAll{}, obs)
	r, other := newRecorder("p"), newRecorder("q")
	ix.Subscribe(r, "s1", []nostr.Filter{{Kinds: kinds(9)}})
	ix.Subscribe(r, "s2", []nostr.Filter{{Tags: chans("A")}})
	ix.Subscribe(r, "s3", []nostr.Filter{{}})
	ix.Subscribe(other, "s1", []nostr.Filter{{}})
	if c := ix.Count(r); c != 3 {
		t.Fatalf("Count = %d, want 3", c)
	}
	if !ix.Unsubscribe(r, "s1") {
		t.Fatal("Unsubscribe of an open subscription reported false")
	}
	if ix.Unsubscribe(r, "s1") {
		t.Fatal("second Unsubscribe reported true")
	}
	if ix.Unsubscribe(newRecorder("x"), "s1") {
		t.Fatal("Unsubscribe of an unknown subscriber reported true")
	}
	ix.Deliver(context.Background(), event(9, "A", 1))
	got := received(t, map[string]*recorder{"r": r, "other": other})
	if !slices.Equal(got["r"], []string{"s2", "s3"}) || !slices.Equal(got["other"], []string{"s1"}) {
		t.Fatalf("after Unsubscribe: %v", got)
	}
	if n := ix.UnsubscribeAll(r); n != 2 {
		t.Fatalf("UnsubscribeAll = %d, want 2", n)
	}
	if c := ix.Count(r); c != 0 {
		t.Fatalf("Count = %d after UnsubscribeAll", c)
	}
	ix.Deliver(context.Background(), event(9, "A", 1))
	if f := r.take(); len(f) != 0 {
		t.Fatalf("closed connection got %d frames", len(f))
	}
	if f := other.take(); len(f) != 1 {
		t.Fatalf("other connection got %d frames, want 1", len(f))
	}
	if ix.Len() != 1 || obs.subs.Load() != 1 {
		t.Fatalf("Len = %d, observer = %d, want 1 and 1", ix.Len(), obs.subs.Load())
	}
	if ix.UnsubscribeAll(r) != 0 {
		t.Fatal("UnsubscribeAll of a gone connection returned non-zero")
	}
}

func TestUntilAndSinceApplyLive(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	r := newRecorder("p")
	ix.Subscribe(r, "old", []nostr.Filter{{Until: ptr[int64](50)}})
	ix.Subscribe(r, "new", []nostr.Filter{{Since: ptr[int64](50), Limit: ptr(0)}})
	ix.Deliver(context.Background(), event(1, "", 100))
	got := received(t, map[string]*recorder{"r": r})
	if !slices.Equal(got["r"], []string{"new"}) {
		t.Fatalf("got %v, want [new] (until excludes later events, limit is irrelevant)", got["r"])
	}
}

func TestReadCheckDenies(t *testing.T) {
	rc := &memberChecker{private: map[string]map[string]bool{"P": {"member": true}}}
	ix := NewIndex(rc, nil)
	member, outsider := newRecorder("member"), newRecorder("outsider")
	for _, r := range []*recorder{member, outsider} {
		ix.Subscribe(r, "chan", []nostr.Filter{{Tags: chans("P")}})
		ix.Subscribe(r, "all", []nostr.Filter{{}})
	}
	if n := ix.Deliver(context.Background(), event(9, "P", 1)); n != 2 {
		t.Fatalf("Deliver = %d, want 2 (member's two subscriptions)", n)
	}
	if f := outsider.take(); len(f) != 0 {
		t.Fatalf("non-member received %d frames of a private channel", len(f))
	}
	if f := member.take(); len(f) != 2 {
		t.Fatalf("member received %d frames, want 2", len(f))
	}
	if n := ix.Deliver(context.Background(), event(9, "open", 1)); n != 2 {
		t.Fatalf("open channel Deliver = %d, want 2", n)
	}
}

func TestNilReadCheckerDenies(t *testing.T) {
	ix := NewIndex(nil, nil)
	r := newRecorder("p")
	ix.Subscribe(r, "s", []nostr.Filter{{}})
	if n := ix.Deliver(context.Background(), event(1, "", 1)); n != 0 || len(r.take()) != 0 {
		t.Fatalf("nil ReadChecker delivered %d", n)
	}
}

func TestReadCheckCachedPerDeliver(t *testing.T) {
	rc := &memberChecker{}
	ix := NewIndex(rc, nil)
	for i := range 1000 {
		ix.Subscribe(newRecorder("alice"), fmt.Sprint("s", i%7), []nostr.Filter{{Kinds: kinds(9)}})
	}
	for range 10 {
		ix.Subscribe(newRecorder("bob"), "b", []nostr.Filter{{}})
	}
	// Never matches: must not cost a read check.
	ix.Subscribe(newRecorder("carol"), "c", []nostr.Filter{{Kinds: kinds(9), Authors: []string{"nobody"}}})

	if n := ix.Deliver(context.Background(), event(9, "A", 1)); n != 1010 {
		t.Fatalf("Deliver = %d, want 1010", n)
	}
	if c := rc.calls.Load(); c != 2 {
		t.Fatalf("CanRead called %d times for 2 distinct pubkeys", c)
	}
	// The cache lives for one call only: membership may change in between.
	ix.Deliver(context.Background(), event(9, "A", 2))
	if c := rc.calls.Load(); c != 4 {
		t.Fatalf("CanRead called %d times after a second Deliver, want 4", c)
	}
}

func TestFrameBuiltOncePerSubID(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	shared := []*recorder{newRecorder("a"), newRecorder("b"), newRecorder("c")}
	for _, r := range shared {
		ix.Subscribe(r, "feed", []nostr.Filter{{Kinds: kinds(9)}})
	}
	own := newRecorder("d")
	ix.Subscribe(own, "mine", []nostr.Filter{{}})
	ev := event(9, "A", 1)
	ix.Deliver(context.Background(), ev)

	var first []byte
	for _, r := range shared {
		f := r.take()
		if len(f) != 1 {
			t.Fatalf("%s got %d frames", r.pubkey, len(f))
		}
		if first == nil {
			first = f[0]
			continue
		}
		if &f[0][0] != &first[0] || len(f[0]) != len(first) {
			t.Fatalf("subscribers of %q got different frame buffers", "feed")
		}
	}
	if !bytes.Equal(first, nostr.EventFrame("feed", ev)) {
		t.Fatalf("frame = %s", first)
	}
	f := own.take()
	if len(f) != 1 || &f[0][0] == &first[0] || !bytes.Equal(f[0], nostr.EventFrame("mine", ev)) {
		t.Fatalf("frame for another sub id: %q", f)
	}
}

func TestFailedSendsNotCounted(t *testing.T) {
	obs := &countingObserver{}
	ix := NewIndex(allowAll{}, obs)
	ok, full := newRecorder("a"), newRecorder("b")
	full.full.Store(true)
	ix.Subscribe(ok, "s", []nostr.Filter{{}})
	ix.Subscribe(full, "s", []nostr.Filter{{}})
	if n := ix.Deliver(context.Background(), event(1, "", 1)); n != 1 {
		t.Fatalf("Deliver = %d, want 1", n)
	}
	if obs.delivered.Load() != 1 || obs.calls.Load() != 1 {
		t.Fatalf("observer delivered=%d calls=%d", obs.delivered.Load(), obs.calls.Load())
	}
}

// unsubscribingChecker closes a subscription while a delivery is between
// collecting candidates and sending, like a CLOSE racing an event.
type unsubscribingChecker struct {
	ix  *Index
	sub Subscriber
	id  string
}

func (u *unsubscribingChecker) CanRead(context.Context, string, *nostr.Event) bool {
	u.ix.Unsubscribe(u.sub, u.id)
	return true
}

func TestClosedDuringDeliveryGetsNothing(t *testing.T) {
	uc := &unsubscribingChecker{}
	ix := NewIndex(uc, nil)
	r := newRecorder("p")
	uc.ix, uc.sub, uc.id = ix, r, "s"
	ix.Subscribe(r, "s", []nostr.Filter{{}})
	if n := ix.Deliver(context.Background(), event(1, "", 1)); n != 0 || len(r.take()) != 0 {
		t.Fatalf("a subscription closed mid-delivery got the event (%d)", n)
	}
}

func TestWideFiltersUseCoarseBuckets(t *testing.T) {
	ix := NewIndex(allowAll{}, nil)
	var manyKinds []int
	var manyChans []string
	for i := range 200 {
		manyKinds = append(manyKinds, 1000+i)
		manyChans = append(manyChans, fmt.Sprint("c", i))
	}
	subs := map[string][]nostr.Filter{
		"chansAndKinds": {{Tags: chans(manyChans...), Kinds: manyKinds}},
		"kindsOnly":     {{Kinds: manyKinds}},
		"chansOnly":     {{Tags: chans(manyChans...)}},
		"chansFewKinds": {{Tags: chans(manyChans...), Kinds: kinds(1000, 1001)}},
		"fewChansKinds": {{Tags: chans("c5", "c6"), Kinds: manyKinds}},
	}
	recs := make(map[string]*recorder)
	for name, f := range subs {
		recs[name] = newRecorder(name)
		ix.Subscribe(recs[name], name, f)
		if s := ix.conns[recs[name]][name]; len(s.keys) > maxKeysPerFilter {
			t.Errorf("%s indexed under %d buckets", name, len(s.keys))
		}
	}
	check := func(ev *nostr.Event, want ...string) {
		t.Helper()
		ix.Deliver(context.Background(), ev)
		var names []string
		for name := range received(t, recs) {
			names = append(names, name)
		}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("kind %d tags %v: delivered to %v, want %v", ev.Kind, ev.Tags, names, want)
		}
	}
	check(event(1150, "c150", 1), "chansAndKinds", "kindsOnly", "chansOnly")
	check(event(1001, "c6", 1), "chansAndKinds", "kindsOnly", "chansOnly", "chansFewKinds", "fewChansKinds")
	check(event(1150, "", 1), "kindsOnly")
	check(event(5, "c3", 1), "chansOnly")
	check(event(5, "zz", 1))
}
