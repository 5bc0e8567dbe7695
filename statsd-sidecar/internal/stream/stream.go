// Package stream follows the relay's metrics stream: dial, read, apply every
// message to the state, and reconnect with backoff whenever the stream ends.
package stream

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
)

// Client follows one relay's stream.
type Client struct {
	addr       string
	st         *state.State
	log        *slog.Logger
	minBackoff time.Duration
	maxBackoff time.Duration

	connected  atomic.Bool
	reconnects atomic.Uint64
}

// Option adjusts a Client.
type Option func(*Client)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithBackoff sets the first and the longest wait between attempts
// (default 100 ms and 5 s).
func WithBackoff(first, max time.Duration) Option {
	return func(c *Client) {
		if first > 0 && max >= first {
			c.minBackoff, c.maxBackoff = first, max
		}
	}
}

// New returns a client for addr ("host:port" or "unix:///path.sock") that
// applies what it receives to st.
func New(addr string, st *state.State, opts ...Option) *Client {
	c := &Client{addr: addr, st: st, log: slog.Default(), minBackoff: 100 * time.Millisecond, maxBackoff: 5 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Connected reports whether a stream is open and has delivered a message.
func (c *Client) Connected() bool { return c.connected.Load() }

// Reconnects counts stream attempts after the first.
func (c *Client) Reconnects() uint64 { return c.reconnects.Load() }

func (c *Client) target() string {
	if strings.HasPrefix(c.addr, "unix:") {
		return c.addr
	}
	return "passthrough:///" + c.addr
}

// Run follows the stream until ctx ends; it returns nil then, or an error
// if the client cannot be built at all.
func (c *Client) Run(ctx context.Context) error {
	conn, err := grpc.NewClient(c.target(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
	)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := metricsv1.NewMetricsServiceClient(conn)
	backoff := c.minBackoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.reconnects.Add(1)
		}
		got, err := c.follow(ctx, client)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if got {
			backoff = c.minBackoff
		}
		c.log.Warn("relay metrics stream ended", "addr", c.addr, "err", err, "retry_in", backoff.String())
		wait := backoff/2 + rand.N(backoff/2+1) // jitter
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, c.maxBackoff)
	}
}

// errStalled ends a stream that went silent.
var errStalled = errors.New("relay metrics stream silent for too long")

// follow reads one stream until it fails; got reports whether any message
// arrived. A stream silent for five of the relay's intervals (at least 5 s)
// is abandoned: the relay sends a message every interval even when idle.
func (c *Client) follow(ctx context.Context, client metricsv1.MetricsServiceClient) (got bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := client.Stream(sctx, &metricsv1.StreamRequest{})
	if err != nil {
		return false, err
	}
	silence := 5 * time.Second
	watchdog := time.AfterFunc(silence, func() { cancel(errStalled) })
	defer watchdog.Stop()
	for {
		msg, err := stream.Recv()
		if err != nil {
			if cause := context.Cause(sctx); errors.Is(cause, errStalled) {
				err = cause
			}
			return got, err
		}
		if iv := time.Duration(msg.GetIntervalMs()) * time.Millisecond; iv > 0 {
			silence = max(5*iv, 5*time.Second)
		}
		watchdog.Reset(silence)
		c.st.Apply(msg, time.Now())
		if !got {
			got = true
			c.connected.Store(true)
			c.log.Info("relay metrics stream connected", "addr", c.addr,
				"instance_id", msg.GetProcess().GetInstanceId(), "pid", msg.GetProcess().GetPid())
		}
	}
}
