package access

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// user is a test identity.
type user struct {
	sk *btcec.PrivateKey
	pk string
}

func newUser(t testing.TB) user {
	t.Helper()
	sk, err := nostr.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return user{sk: sk, pk: nostr.PublicKeyHex(sk)}
}

var eventSeq atomic.Int64

// event returns a signed event of u; each call has a distinct id.
func (u user) event(t testing.TB, kind int, tags ...[]string) *nostr.Event {
	t.Helper()
	n := eventSeq.Add(1)
	ev := &nostr.Event{
		CreatedAt: 1_700_000_000 + n,
		Kind:      kind,
		Tags:      tags,
		Content:   fmt.Sprintf("event %d", n),
	}
	if ev.Tags == nil {
		ev.Tags = [][]string{}
	}
	if err := ev.Sign(u.sk); err != nil {
		t.Fatal(err)
	}
	return ev
}

func h(id string) []string { return []string{"h", id} }

// countObserver counts cache hits and misses.
type countObserver struct {
	memberHit, memberMiss, accHit, accMiss atomic.Int64
}

func (o *countObserver) MembershipCache(hit bool) {
	if hit {
		o.memberHit.Add(1)
	} else {
		o.memberMiss.Add(1)
	}
}

func (o *countObserver) AccessibleChannelsCache(hit bool) {
	if hit {
		o.accHit.Add(1)
	} else {
		o.accMiss.Add(1)
	}
}

// recordPublisher records published invalidations and may forward them to
// other nodes' Access, as the Redis bus does.
type recordPublisher struct {
	mu   sync.Mutex
	got  []Invalidation
	to   []*Access
	fail error
}

func (p *recordPublisher) PublishInvalidation(_ context.Context, inv Invalidation) error {
	p.mu.Lock()
	p.got = append(p.got, inv)
	to := p.to
	p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	for _, a := range to {
		a.ApplyInvalidation(inv)
	}
	return nil
}

func (p *recordPublisher) published() []Invalidation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Invalidation(nil), p.got...)
}

// env is one relay node's access policy over a real store.
type env struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	a   *Access
	clk *fakeClock
	obs *countObserver
}

func newEnv(t *testing.T, st store.Store, cfg Config) *env {
	t.Helper()
	clk := newFakeClock()
	obs := &countObserver{}
	return &env{t: t, ctx: context.Background(), st: st, a: newWithClock(st, cfg, obs, clk.Now), clk: clk, obs: obs}
}

// write runs an event through the access check, the store and Applied, as
// ingest does. It returns the refusal, or nil when the event was stored.
func (e *env) write(u user, ev *nostr.Event) error {
	e.t.Helper()
	change, err := e.a.CheckWrite(e.ctx, u.pk, ev)
	if err != nil {
		var r *Refusal
		if !errors.As(err, &r) {
			e.t.Fatalf("CheckWrite kind %d: non-refusal error %v", ev.Kind, err)
		}
		return err
	}
	if err := e.st.Save(e.ctx, ev, change); err != nil {
		e.t.Fatalf("Save kind %d: %v", ev.Kind, err)
	}
	e.a.Applied(e.ctx, change)
	return nil
}

func (e *env) mustWrite(u user, ev *nostr.Event) {
	e.t.Helper()
	if err := e.write(u, ev); err != nil {
		e.t.Fatalf("write kind %d refused: %v", ev.Kind, err)
	}
}

// refused asserts that the write is refused with exactly msg.
func (e *env) refused(u user, ev *nostr.Event, msg string) {
	e.t.Helper()
	err := e.write(u, ev)
	if err == nil {
		e.t.Fatalf("kind %d accepted, want %q", ev.Kind, msg)
	}
	if err.Error() != msg {
		e.t.Fatalf("kind %d refused with %q, want %q", ev.Kind, err.Error(), msg)
	}
}

// createChannel has u create a channel and returns its id.
func (e *env) createChannel(u user, vis store.Visibility) string {
	e.t.Helper()
	id := relaytest.NewUUID()
	tags := [][]string{h(id), {"name", "chan " + id[:8]}}
	if vis != "" {
		tags = append(tags, []string{"visibility", string(vis)})
	}
	e.mustWrite(u, u.event(e.t, nostr.KindCreateChannel, tags...))
	return id
}

// storeRole reads the role from the store itself.
func (e *env) storeRole(channel, pk string) store.Role {
	e.t.Helper()
	r, err := e.st.Membership(e.ctx, channel, pk)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) canRead(u user, ev *nostr.Event) bool {
	return e.a.CanRead(e.ctx, u.pk, ev)
}

func (e *env) scope(u user) []string {
	e.t.Helper()
	sc, err := e.a.Scope(e.ctx, u.pk)
	if err != nil {
		e.t.Fatal(err)
	}
	if sc.Unrestricted {
		e.t.Fatal("client scope is unrestricted")
	}
	return sc.Channels
}
