package fanout

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// The universe is small on purpose so that random filters and events
// collide often.
var (
	propIDs      = []string{"id1", "id2"}
	propAuthors  = []string{"a1", "a2"}
	propKinds    = []int{1, 9, 20001}
	propChannels = []string{"A", "B", "C", ""}
	propPTags    = []string{"x", "y"}
	propSubIDs   = []string{"s0", "s1", "s2"}
)

// optionalSubset draws nil (no constraint) or a possibly empty subset.
func optionalSubset[E comparable](t *rapid.T, from []E, label string) []E {
	if !rapid.Bool().Draw(t, label+"?") {
		return nil
	}
	out := []E{}
	for _, v := range from {
		if rapid.Bool().Draw(t, fmt.Sprint(label, "=", v)) {
			out = append(out, v)
		}
	}
	return out
}

var filterGen = rapid.Custom(func(t *rapid.T) nostr.Filter {
	f := nostr.Filter{
		IDs:     optionalSubset(t, propIDs, "ids"),
		Authors: optionalSubset(t, propAuthors, "authors"),
		Kinds:   optionalSubset(t, propKinds, "kinds"),
		Since:   rapid.Ptr(rapid.Int64Range(0, 10), true).Draw(t, "since"),
		Until:   rapid.Ptr(rapid.Int64Range(0, 10), true).Draw(t, "until"),
		Limit:   rapid.Ptr(rapid.IntRange(0, 3), true).Draw(t, "limit"),
	}
	if h := optionalSubset(t, propChannels, "h"); h != nil {
		f.Tags = map[string][]string{"h": h}
	}
	if p := optionalSubset(t, propPTags, "p"); p != nil {
		if f.Tags == nil {
			f.Tags = map[string][]string{}
		}
		f.Tags["p"] = p
	}
	return f
})

var eventGen = rapid.Custom(func(t *rapid.T) *nostr.Event {
	ev := &nostr.Event{
		ID:        rapid.SampledFrom(propIDs).Draw(t, "id"),
		PubKey:    rapid.SampledFrom(propAuthors).Draw(t, "pubkey"),
		CreatedAt: rapid.Int64Range(0, 10).Draw(t, "created_at"),
		Kind:      rapid.SampledFrom(append([]int{5}, propKinds...)).Draw(t, "kind"),
		Tags:      [][]string{},
	}
	for _, c := range rapid.SliceOfN(rapid.SampledFrom(propChannels), 0, 3).Draw(t, "h tags") {
		ev.Tags = append(ev.Tags, []string{"h", c})
	}
	for _, p := range rapid.SliceOfN(rapid.SampledFrom(propPTags), 0, 1).Draw(t, "p tags") {
		ev.Tags = append(ev.Tags, []string{"p", p})
	}
	return ev
})

type propKey struct {
	sub int
	id  string
}

// TestDeliverEqualsBruteForce drives the index with random subscription
// changes and events and checks every delivery against a scan of all open
// subscriptions with MatchesAny and CanRead, plus Count, Len and Channels
// against the model, and the interest hook against Channels.
func TestDeliverEqualsBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rc := &memberChecker{private: map[string]map[string]bool{
			"B": {"p1": true},
			"C": {"p0": true, "p2": true},
		}}
		ix := NewIndex(rc, nil)
		log := newHookLog()
		ix.SetInterestHook(log.hook)
		subs := []*recorder{newRecorder("p0"), newRecorder("p0"), newRecorder("p1"), newRecorder("p2")}
		for _, s := range subs {
			s.full.Store(rapid.Bool().Draw(t, "full") && rapid.Bool().Draw(t, "really full"))
		}
		model := make(map[propKey][]nostr.Filter)
		subGen := rapid.IntRange(0, len(subs)-1)

		t.Repeat(map[string]func(*rapid.T){
			"subscribe": func(t *rapid.T) {
				k := propKey{subGen.Draw(t, "sub"), rapid.SampledFrom(propSubIDs).Draw(t, "subID")}
				filters := rapid.SliceOfN(filterGen, 1, 3).Draw(t, "filters")
				ix.Subscribe(subs[k.sub], k.id, filters)
				model[k] = filters
			},
			"unsubscribe": func(t *rapid.T) {
				k := propKey{subGen.Draw(t, "sub"), rapid.SampledFrom(propSubIDs).Draw(t, "subID")}
				_, had := model[k]
				if got := ix.Unsubscribe(subs[k.sub], k.id); got != had {
					t.Fatalf("Unsubscribe(%v) = %v, model says %v", k, got, had)
				}
				delete(model, k)
			},
			"unsubscribeAll": func(t *rapid.T) {
				i := subGen.Draw(t, "sub")
				want := 0
				for k := range model {
					if k.sub == i {
						want++
						delete(model, k)
					}
				}
				if got := ix.UnsubscribeAll(subs[i]); got != want {
					t.Fatalf("UnsubscribeAll(%d) = %d, want %d", i, got, want)
				}
			},
			"deliver": func(t *rapid.T) {
				ev := eventGen.Draw(t, "event")
				want := make(map[propKey]bool)
				wantSent := 0
				for k, filters := range model {
					if nostr.MatchesAny(filters, ev) && rc.CanRead(context.Background(), subs[k.sub].pubkey, ev) {
						want[k] = true
						if !subs[k.sub].full.Load() {
							wantSent++
						}
					}
				}
				sent := ix.Deliver(context.Background(), ev)
				if sent != wantSent {
					t.Fatalf("Deliver = %d, brute force says %d", sent, wantSent)
				}
				got := make(map[propKey]bool)
				for i, s := range subs {
					for _, f := range s.take() {
						j := slices.IndexFunc(propSubIDs, func(id string) bool {
							return bytes.Equal(f, nostr.EventFrame(id, ev))
						})
						if j < 0 {
							t.Fatalf("subscriber %d got an unexpected frame %s", i, f)
						}
						k := propKey{i, propSubIDs[j]}
						if got[k] {
							t.Fatalf("%v received the event twice", k)
						}
						got[k] = true
					}
				}
				for k := range want {
					if !subs[k.sub].full.Load() && !got[k] {
						t.Fatalf("%v (filters %+v) should have received %+v", k, model[k], ev)
					}
				}
				for k := range got {
					if !want[k] {
						t.Fatalf("%v (filters %+v) should not have received %+v", k, model[k], ev)
					}
				}
			},
			"": func(t *rapid.T) {
				counts := make([]int, len(subs))
				wantChans := make(map[string]bool)
				for k, filters := range model {
					counts[k.sub]++
					for _, c := range subscriptionInterest(filters) {
						wantChans[c] = true
					}
				}
				for i, s := range subs {
					if got := ix.Count(s); got != counts[i] {
						t.Fatalf("Count(%d) = %d, want %d", i, got, counts[i])
					}
				}
				if ix.Len() != len(model) {
					t.Fatalf("Len = %d, want %d", ix.Len(), len(model))
				}
				chs, global := ix.Channels()
				if global != wantChans[""] {
					t.Fatalf("Channels global = %v, want %v", global, wantChans[""])
				}
				if len(chs)+boolInt(global) != len(wantChans) {
					t.Fatalf("Channels = %v, want %v", chs, wantChans)
				}
				for _, c := range chs {
					if !wantChans[c] {
						t.Fatalf("Channels has %q, model %v", c, wantChans)
					}
				}
				log.mu.Lock()
				defer log.mu.Unlock()
				if len(log.bad) != 0 || len(log.active) != len(wantChans) {
					t.Fatalf("hook state %v (bad %v), want %v", log.active, log.bad, wantChans)
				}
			},
		})
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
