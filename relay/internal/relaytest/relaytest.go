// Package relaytest holds what tests of the relay share when they drive it
// from outside with the independent go-nostr client: identities, signed
// events, NIP-42 login, and database/process settings for test runs.
package relaytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// DatabaseURL is the PostgreSQL server tests use.
func DatabaseURL() string {
	if u := os.Getenv("BUZZ_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// RedisURL is the Redis server tests use.
func RedisURL() string {
	if u := os.Getenv("BUZZ_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// RandomName returns prefix followed by 12 random hex characters, for
// schemas and namespaces that must not collide between runs.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// NewUUID returns a random (version 4) UUID, the form channel ids take.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// User is a test identity.
type User struct {
	SK, PK string
}

// NewUser generates an identity.
func NewUser(t testing.TB) User {
	t.Helper()
	sk := gonostr.GeneratePrivateKey()
	pk, err := gonostr.GetPublicKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	return User{SK: sk, PK: pk}
}

// Event builds and signs an event with go-nostr, created now.
func (u User) Event(t testing.TB, kind int, content string, tags ...gonostr.Tag) gonostr.Event {
	t.Helper()
	ev := gonostr.Event{Kind: kind, Content: content, CreatedAt: gonostr.Now(), Tags: gonostr.Tags(tags)}
	if ev.Tags == nil {
		ev.Tags = gonostr.Tags{}
	}
	if err := ev.Sign(u.SK); err != nil {
		t.Fatal(err)
	}
	return ev
}

// Connect opens a go-nostr connection without authenticating.
func Connect(t testing.TB, url string) *gonostr.Relay {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := gonostr.RelayConnect(ctx, url, gonostr.WithNoticeHandler(func(string) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Login connects and authenticates as u.
func Login(t testing.TB, url string, u User) *gonostr.Relay {
	t.Helper()
	c := Connect(t, url)
	if err := Authenticate(c, u); err != nil {
		t.Fatalf("auth: %v", err)
	}
	return c
}

// Authenticate waits for the relay's challenge (it arrives asynchronously)
// and answers it.
func Authenticate(c *gonostr.Relay, u User) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		noChallenge := false
		err := c.Auth(ctx, func(ev *gonostr.Event) error {
			if ch := ev.Tags.Find("challenge"); ch == nil || ch[1] == "" {
				noChallenge = true
				return fmt.Errorf("no challenge yet")
			}
			return ev.Sign(u.SK)
		})
		cancel()
		if !noChallenge || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// OKMessage extracts the relay's OK message from a go-nostr Publish error.
func OKMessage(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), "msg: ")
}

// ToEvent converts a go-nostr event to the relay's model.
func ToEvent(e gonostr.Event) *nostr.Event {
	tags := make([][]string, len(e.Tags))
	for i, t := range e.Tags {
		tags[i] = []string(t)
	}
	return &nostr.Event{ID: e.ID, PubKey: e.PubKey, CreatedAt: int64(e.CreatedAt), Kind: e.Kind, Tags: tags, Content: e.Content, Sig: e.Sig}
}
