package multinode

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
)

// Three nodes: a subscriber anywhere receives an event published on another
// node exactly once, whatever mix of channel and global filters its node
// holds, and the publishing node does not deliver its own echo again.
func TestCrossNodeDeliveryExactlyOnce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, relaytest.RedisURL())
	rc := c.redis()
	a, b, cc := c.start("a", nil), c.start("b", nil), c.start("c", nil)

	author := relaytest.NewUser(t)
	pub := dial(t, b.URL, author)
	x := pub.createChannel("open")

	// Node A holds channel and global subscriptions (global mode); node C
	// only a channel one (per-channel mode); node B is the publisher's.
	onA := dial(t, a.URL, relaytest.NewUser(t))
	onA.req("ch", channelFilter(x))
	onA.req("glob", kindsFilter(9))
	onA.req("both", channelFilter(x), kindsFilter(9))
	onA.req("eph", kindsFilter(20001))
	onA2 := dial(t, a.URL, relaytest.NewUser(t))
	onA2.req("ch", channelFilter(x))
	onC := dial(t, cc.URL, relaytest.NewUser(t))
	onC.req("ch", channelFilter(x))
	onB := dial(t, b.URL, relaytest.NewUser(t))
	onB.req("ch", channelFilter(x))
	onB.req("glob", kindsFilter(1, 9))

	c.waitSubscribed(rc, "global", 2) // a and b
	c.waitSubscribed(rc, "channel:"+x, 1)

	pub.post(x, "first")
	pub.publish(author.Event(t, 1, "plain note"))
	pub.publish(author.Event(t, 20001, "ephemeral"))
	pub.post(x, "last")

	for _, w := range []struct {
		c   *client
		sub string
	}{{onA, "ch"}, {onA, "glob"}, {onA, "both"}, {onA2, "ch"}, {onC, "ch"}, {onB, "ch"}, {onB, "glob"}} {
		w.c.await(w.sub, "last")
	}
	onA.await("eph", "ephemeral")
	onB.await("glob", "plain note")
	time.Sleep(300 * time.Millisecond) // room for a late duplicate

	check := func(name string, cl *client, sub string, want ...string) {
		t.Helper()
		if got := cl.contents(sub); !slices.Equal(got, want) {
			t.Errorf("%s/%s received %q, want %q", name, sub, got, want)
		}
	}
	check("a", onA, "ch", "first", "last")
	check("a", onA, "glob", "first", "last")
	check("a", onA, "both", "first", "last")
	check("a", onA, "eph", "ephemeral")
	check("a2", onA2, "ch", "first", "last")
	check("c", onC, "ch", "first", "last")
	check("b", onB, "ch", "first", "last")
	check("b", onB, "glob", "first", "plain note", "last")
	a.Alive()
	b.Alive()
	cc.Alive()
}

// A private channel's events never reach a non-member on another node, not
// through a channel filter and not through a global one.
func TestPrivateChannelIsolationAcrossNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, relaytest.RedisURL())
	rc := c.redis()
	a, b := c.start("a", nil), c.start("b", nil)

	owner, member, eve := relaytest.NewUser(t), relaytest.NewUser(t), relaytest.NewUser(t)
	ob := dial(t, b.URL, owner)
	private := ob.createChannel("private")
	open := ob.createChannel("open")
	ob.addMember(private, member.PK)

	ma := dial(t, a.URL, member)
	ma.req("p", channelFilter(private))
	ma.req("all", kindsFilter(9))
	ea := dial(t, a.URL, eve)
	ea.req("p", channelFilter(private))
	ea.req("all", kindsFilter(9))
	ea.req("open", channelFilter(open))
	c.waitSubscribed(rc, "global", 1)

	ob.post(private, "secret")
	ob.post(open, "marker")
	ea.await("all", "marker")
	ea.await("open", "marker")
	ma.await("all", "marker")
	ma.await("p", "secret")
	time.Sleep(200 * time.Millisecond)

	if got := ea.contents("p"); len(got) != 0 {
		t.Errorf("non-member received %q through a channel filter on another node", got)
	}
	if n := ea.copies("all", "secret"); n != 0 {
		t.Errorf("non-member received the secret %d times through a global filter", n)
	}
	if n := ma.copies("p", "secret"); n != 1 {
		t.Errorf("member received the secret %d times, want 1", n)
	}
	if n := ma.copies("all", "secret"); n != 1 {
		t.Errorf("member's global subscription received the secret %d times, want 1", n)
	}
}

// A membership removal on node A reaches node B's caches with the
// invalidation: events published after it, on either node, are not
// delivered to the removed member on B.
func TestMembershipRemovalReachesOtherNode(t *testing.T) {
	t.Parallel()
	m := newMembershipSetup(t)
	oa, mb, private, open, member := m.oa, m.mb, m.private, m.open, m.member
	ob := dial(t, m.b.URL, m.owner)

	// B caches the member's membership while delivering this.
	oa.post(private, "before")
	mb.await("p", "before")
	ob.post(private, "before on b")
	mb.await("p", "before on b")

	oa.removeMember(private, member.PK)
	// Published on A after the removal: the invalidation travels ahead of
	// it, so B must already refuse.
	oa.post(private, "after on a")
	oa.post(open, "marker a")
	mb.await("o", "marker a")
	// B applied the invalidation before delivering the marker: its own
	// subscribers are refused too, long before the cache TTL.
	ob.post(private, "after on b")
	ob.post(open, "marker b")
	mb.await("o", "marker b")

	for _, s := range []string{"after on a", "after on b"} {
		if n := mb.copies("p", s); n != 0 {
			t.Errorf("removed member received %q on node b", s)
		}
	}
}

// Without an invalidation (the membership row changed behind the relays'
// backs) node B stops delivering once its cache entry expires: within the
// 10 s TTL.
func TestMembershipChangeWithoutInvalidationWithinTTL(t *testing.T) {
	t.Parallel()
	m := newMembershipSetup(t)
	oa, mb, private, open, owner, member := m.oa, m.mb, m.private, m.open, m.owner, m.member
	oa.post(private, "cached")
	mb.await("p", "cached")

	st, err := postgres.Open(context.Background(), relaytest.DatabaseURL(), postgres.Options{Schema: m.c.schema, PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rm := owner.Event(t, 9001, "", gonostr.Tag{"h", private}, gonostr.Tag{"p", member.PK})
	if err := st.Save(context.Background(), relaytest.ToEvent(rm), &store.ChannelChange{Channel: private, RemoveMember: member.PK}); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()

	const ttl = 10 * time.Second
	var stoppedAt time.Duration
	for i := 0; ; i++ {
		tick := fmt.Sprintf("tick %d", i)
		sent := time.Since(removed)
		oa.post(private, tick)
		oa.post(open, "marker "+tick)
		mb.await("o", "marker "+tick)
		if mb.copies("p", tick) == 0 {
			stoppedAt = sent
			break
		}
		if sent > ttl+2*time.Second {
			t.Fatalf("node b still delivers %v after the removal", sent)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("node b stopped delivering %v after the removal", stoppedAt)
	if stoppedAt > ttl+time.Second {
		t.Fatalf("stopped after %v, beyond the %v TTL", stoppedAt, ttl)
	}
}

// Topic hygiene: a node subscribes to a channel's topic only while it has a
// subscriber for that channel, and to the global topic only while it has a
// global subscription (which replaces its channel topics).
func TestTopicHygiene(t *testing.T) {
	t.Parallel()
	c := newCluster(t, relaytest.RedisURL())
	rc := c.redis()
	a, b := c.start("a", nil), c.start("b", nil)

	owner := relaytest.NewUser(t)
	oa := dial(t, a.URL, owner)
	x, y := oa.createChannel("open"), oa.createChannel("open")
	c.waitSubscribed(rc, "cache-invalidate", 2)
	if got, want := c.topics(rc), []string{c.topic("cache-invalidate")}; !slices.Equal(got, want) {
		t.Fatalf("idle nodes are subscribed to %v", got)
	}

	sa := dial(t, a.URL, relaytest.NewUser(t))
	sa.req("x", channelFilter(x))
	sb := dial(t, b.URL, relaytest.NewUser(t))
	sb.req("y", channelFilter(y))
	c.waitSubscribed(rc, "channel:"+x, 1)
	c.waitSubscribed(rc, "channel:"+y, 1)
	want := []string{c.topic("cache-invalidate"), c.topic("channel:" + x), c.topic("channel:" + y)}
	slices.Sort(want)
	if got := c.topics(rc); !slices.Equal(got, want) {
		t.Fatalf("topics %v, want %v", got, want)
	}

	// A global subscription on b: b takes the global topic and drops y.
	sb.req("g", kindsFilter(9))
	c.waitSubscribed(rc, "global", 1)
	c.waitSubscribed(rc, "channel:"+y, 0)
	if n := c.numsub(rc, "channel:"+x); n != 1 {
		t.Fatalf("channel x has %d subscribed nodes, want 1 (a)", n)
	}

	// Closing a's only subscriber releases x after the linger.
	sa.unsub("x")
	c.waitSubscribed(rc, "channel:"+x, 0)
	want = []string{c.topic("cache-invalidate"), c.topic("global")}
	if got := c.topics(rc); !slices.Equal(got, want) {
		t.Fatalf("topics %v, want %v", got, want)
	}
	a.Alive()
	b.Alive()
}

// membershipSetup is the start the membership tests share: nodes a and b,
// the owner on a with a private channel (member added) and an open one, and
// the member on b subscribed to the private one as "p" and the open one as
// "o", both subscriptions known to Redis.
type membershipSetup struct {
	c             *cluster
	a, b          *node
	owner, member relaytest.User
	oa, mb        *client
	private, open string
}

func newMembershipSetup(t *testing.T) *membershipSetup {
	t.Helper()
	c := newCluster(t, relaytest.RedisURL())
	rc := c.redis()
	m := &membershipSetup{c: c, owner: relaytest.NewUser(t), member: relaytest.NewUser(t)}
	m.a, m.b = c.start("a", nil), c.start("b", nil)
	m.oa = dial(t, m.a.URL, m.owner)
	m.private = m.oa.createChannel("private")
	m.open = m.oa.createChannel("open")
	m.oa.addMember(m.private, m.member.PK)
	m.mb = dial(t, m.b.URL, m.member)
	m.mb.req("p", channelFilter(m.private))
	m.mb.req("o", channelFilter(m.open))
	c.waitSubscribed(rc, "channel:"+m.private, 1)
	c.waitSubscribed(rc, "channel:"+m.open, 1)
	return m
}
