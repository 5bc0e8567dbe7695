package multinode

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
)

var relayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "buzz-multinode")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	relayBin = filepath.Join(dir, "buzz-relay")
	out, err := exec.Command("go", "build", "-o", relayBin, "github.com/buzzrelay/buzz/relay/cmd/buzz-relay").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build buzz-relay: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
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
	waitFor(c.t, 10*time.Second, fmt.Sprintf("%d subscribers on %s", n, suffix), func() bool {
		return c.numsub(rc, suffix) == n
	})
}

// node is one buzz-relay process.
type node struct {
	t      testing.TB
	name   string
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	msgs   []string
}

// start runs a relay of the cluster; env adds settings.
func (c *cluster) start(name string, env map[string]string) *node {
	t := c.t
	t.Helper()
	port := relaytest.FreePort(t)
	vars := map[string]string{
		"BUZZ_BIND_ADDR":         "127.0.0.1:" + strconv.Itoa(port),
		"RELAY_URL":              fmt.Sprintf("ws://127.0.0.1:%d", port),
		"BUZZ_HEALTH_PORT":       "0",
		"BUZZ_METRICS_GRPC_ADDR": "127.0.0.1:0",
		"BUZZ_DATA_DIR":          t.TempDir(),
		"BUZZ_DRAIN_DELAY_SECS":  "0",
		"DATABASE_URL":           relaytest.DatabaseURL(),
		"BUZZ_DB_SCHEMA":         c.schema,
		"BUZZ_DB_POOL_SIZE":      "4",
		"REDIS_URL":              c.redisURL,
		"BUZZ_REDIS_NAMESPACE":   c.ns,
		"BUZZ_REDIS_POOL_SIZE":   "4",
	}
	for k, v := range env {
		vars[k] = v
	}
	n := &node{t: t, name: name, url: vars["RELAY_URL"], exited: make(chan struct{})}
	n.cmd = exec.Command(relayBin, "serve")
	n.cmd.Env = os.Environ()
	for k, v := range vars {
		n.cmd.Env = append(n.cmd.Env, k+"="+v)
	}
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			msg, _ := line["msg"].(string)
			n.mu.Lock()
			n.msgs = append(n.msgs, msg)
			n.mu.Unlock()
			if msg == "relay listening" {
				once.Do(func() { close(listening) })
			}
		}
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
	})
	select {
	case <-listening:
	case <-n.exited:
		t.Fatalf("node %s exited during start-up", name)
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not start", name)
	}
	return n
}

// alive fails the test if the process has exited.
func (n *node) alive() {
	n.t.Helper()
	select {
	case <-n.exited:
		n.t.Fatalf("node %s exited", n.name)
	default:
	}
}

// logged reports whether the node logged msg.
func (n *node) logged(msg string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.msgs, msg)
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
