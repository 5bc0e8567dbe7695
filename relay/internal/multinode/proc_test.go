package multinode

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/relaytest/proctest"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
)

var relayBin string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, "", proctest.Binary{Pkg: "github.com/buzzrelay/buzz/relay/cmd/buzz-relay", Path: &relayBin}))
}

// cluster is what the nodes of one test share: a database schema, a Redis
// and a namespace of their own.
type cluster struct {
	t        testing.TB
	schema   string
	redisURL string
	ns       string
}

func newCluster(t testing.TB, redisURL string) *cluster {
	c := &cluster{t: t, schema: relaytest.RandomName("mn_"), redisURL: redisURL, ns: relaytest.RandomName("mn")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := postgres.DropSchema(ctx, relaytest.DatabaseURL(), c.schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return c
}

func (c *cluster) topic(suffix string) string { return "buzz:" + c.ns + ":" + suffix }

// redis returns a client for inspecting the cluster's Redis.
func (c *cluster) redis() *redis.Client {
	opt, err := redis.ParseURL(c.redisURL)
	if err != nil {
		c.t.Fatal(err)
	}
	opt.MaxRetries = -1
	rc := redis.NewClient(opt)
	c.t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// numsub is how many nodes are subscribed to the topic with this suffix.
func (c *cluster) numsub(rc *redis.Client, suffix string) int64 {
	topic := c.topic(suffix)
	m, err := rc.PubSubNumSub(context.Background(), topic).Result()
	if err != nil {
		return -1
	}
	return m[topic]
}

// topics lists the namespace's subscribed topics (PUBSUB CHANNELS).
func (c *cluster) topics(rc *redis.Client) []string {
	got, err := rc.PubSubChannels(context.Background(), "buzz:"+c.ns+":*").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// waitSubscribed waits until exactly n nodes are subscribed to the topic.
func (c *cluster) waitSubscribed(rc *redis.Client, suffix string, n int64) {
	c.t.Helper()
	relaytest.WaitFor(c.t, 10*time.Second, fmt.Sprintf("%d subscribers on %s", n, suffix), func() bool {
		return c.numsub(rc, suffix) == n
	})
}

// node is one buzz-relay process of a cluster.
type node struct {
	*proctest.Relay
	name string
}

// start runs a relay of the cluster; env adds settings.
func (c *cluster) start(name string, env map[string]string) *node {
	t := c.t
	t.Helper()
	vars := map[string]string{
		"BUZZ_DRAIN_DELAY_SECS": "0",
		"DATABASE_URL":          relaytest.DatabaseURL(),
		"BUZZ_DB_SCHEMA":        c.schema,
		"BUZZ_DB_POOL_SIZE":     "4",
		"REDIS_URL":             c.redisURL,
		"BUZZ_REDIS_NAMESPACE":  c.ns,
		"BUZZ_REDIS_POOL_SIZE":  "4",
	}
	maps.Copy(vars, env)
	r := proctest.StartRelay(t, relayBin, vars, proctest.Options{Name: "node " + name, Args: []string{"serve"}, KeepLog: true})
	return &node{Relay: r, name: name}
}
