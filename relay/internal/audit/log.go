package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Errors Record returns when it refuses an entry. A refused entry has been
// counted and logged at ERROR level in full; it is not lost silently.
var (
	// ErrQueueFull: the queue stayed full for Options.EnqueueWait.
	ErrQueueFull = errors.New("audit queue full")
	// ErrClosed: the log was closed or its writer stopped.
	ErrClosed = errors.New("audit log closed")
)

// Defaults for the zero values of Options.
const (
	DefaultQueueSize    = 1000
	DefaultMaxBatch     = 100
	DefaultEnqueueWait  = 5 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Backoff between failed writes: doubles from retryMin up to retryMax.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 5 * time.Second
)

// Observer receives audit measurements (the lead wires metrics; nil-safe).
type Observer interface {
	// Written reports one successful batch write of n entries taking d.
	Written(d time.Duration, n int)
	// WriteFailed reports one failed write attempt.
	WriteFailed()
	// SendFailed reports one entry Record refused.
	SendFailed()
}

// Options tune a Log. Zero values take the defaults.
type Options struct {
	// QueueSize bounds the entries waiting for the writer (default 1000).
	QueueSize int
	// MaxBatch bounds the entries in one AppendAudit call (default 100).
	MaxBatch int
	// EnqueueWait is how long Record waits on a full queue before refusing
	// the entry (default 5 s; negative: do not wait).
	EnqueueWait time.Duration
	// WriteTimeout bounds one AppendAudit attempt (default 10 s), so a hung
	// connection turns into a retry rather than a stuck writer.
	WriteTimeout time.Duration
	// Logger receives errors (default slog.Default()).
	Logger *slog.Logger
}

// Log is the audit log: a bounded queue in front of one batching writer.
// Record may be called from any goroutine; Run must run exactly once.
type Log struct {
	st           store.Audit
	obs          Observer
	log          *slog.Logger
	maxBatch     int
	enqueueWait  time.Duration
	writeTimeout time.Duration

	// mu guards closing queue: Record sends under the read lock, so the
	// channel is never closed under a sender's feet.
	mu     sync.RWMutex
	closed bool
	queue  chan store.AuditEntry

	// pending counts entries accepted and not yet written.
	pending atomic.Int64
	started atomic.Bool
	done    chan struct{}
}

// New returns a Log writing to st. obs may be nil.
func New(st store.Audit, obs Observer, opts Options) *Log {
	if obs == nil {
		obs = nopObserver{}
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	switch {
	case opts.EnqueueWait == 0:
		opts.EnqueueWait = DefaultEnqueueWait
	case opts.EnqueueWait < 0:
		opts.EnqueueWait = 0
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Log{
		st:           st,
		obs:          obs,
		log:          opts.Logger.With("component", "audit"),
		maxBatch:     opts.MaxBatch,
		enqueueWait:  opts.EnqueueWait,
		writeTimeout: opts.WriteTimeout,
		queue:        make(chan store.AuditEntry, opts.QueueSize),
		done:         make(chan struct{}),
	}
}

// Pending returns the number of entries accepted and not yet written.
func (l *Log) Pending() int64 { return l.pending.Load() }

// Record enqueues an entry. On a full queue it waits up to EnqueueWait (or
// until ctx ends); if the queue is still full it counts SendFailed, logs the
// entry at ERROR level with its identifying fields (never silent) and
// returns ErrQueueFull. After Close, or once the writer has stopped, it does
// the same and returns ErrClosed. The entry's time (now if unset) is cut to
// microseconds UTC and its text made storable; Seq and the hashes are the
// store's to set.
func (l *Log) Record(ctx context.Context, e store.AuditEntry) error {
	normalize(&e)
	err := l.enqueue(ctx, e)
	if err != nil {
		l.obs.SendFailed()
		l.log.LogAttrs(ctx, slog.LevelError, "audit entry refused",
			append(entryAttrs(e), slog.String("error", err.Error()))...)
	}
	return err
}

func (l *Log) enqueue(ctx context.Context, e store.AuditEntry) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	// Count before sending so the writer never decrements below zero.
	l.pending.Add(1)
	select {
	case l.queue <- e:
		return nil
	default:
	}
	if l.enqueueWait > 0 {
		t := time.NewTimer(l.enqueueWait)
		defer t.Stop()
		select {
		case l.queue <- e:
			return nil
		case <-t.C:
		case <-ctx.Done():
			l.pending.Add(-1)
			return fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
		}
	}
	l.pending.Add(-1)
	return ErrQueueFull
}

// Close stops accepting entries and waits (bounded by ctx) for the writer
// to flush everything queued; it returns an error if entries remain
// unwritten. It is safe to call more than once.
func (l *Log) Close(ctx context.Context) error {
	// shut may wait for Records blocked on a full queue (at most
	// EnqueueWait); Close's own bound is ctx, so it does not wait for it.
	go l.shut()
	select {
	case <-l.done:
	case <-ctx.Done():
		return fmt.Errorf("audit: %d entries not yet written: %w", l.pending.Load(), ctx.Err())
	}
	if n := l.pending.Load(); n > 0 {
		return fmt.Errorf("audit: writer stopped with %d entries unwritten", n)
	}
	return nil
}

// shut refuses further entries and lets the writer see the end of the queue.
func (l *Log) shut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
}

// Run is the single writer goroutine. It returns once Close has been called
// and everything queued is written, or when ctx is done; in the latter case
// the entries still queued are logged at ERROR level, one by one, and the
// log refuses further entries. A second concurrent or later call returns at
// once.
func (l *Log) Run(ctx context.Context) {
	if !l.started.CompareAndSwap(false, true) {
		l.log.Error("audit writer already running")
		return
	}
	defer close(l.done)
	batch := make([]store.AuditEntry, 0, l.maxBatch)
	for {
		var (
			e  store.AuditEntry
			ok bool
		)
		select {
		case e, ok = <-l.queue:
		case <-ctx.Done():
			l.abandon(ctx, nil)
			return
		}
		if !ok {
			return
		}
		batch = append(batch[:0], e)
		open := l.fill(&batch)
		if !l.write(ctx, batch) {
			l.abandon(ctx, batch)
			return
		}
		if !open {
			return
		}
	}
}

// fill adds entries already queued to batch, up to maxBatch, without
// waiting for more. It reports false once the queue is closed and empty.
func (l *Log) fill(batch *[]store.AuditEntry) bool {
	for len(*batch) < l.maxBatch {
		select {
		case e, ok := <-l.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, e)
		default:
			return true
		}
	}
	return true
}

// write appends batch, retrying with backoff until it succeeds or ctx ends;
// it reports whether the batch was written.
func (l *Log) write(ctx context.Context, batch []store.AuditEntry) bool {
	wait := retryMin
	// AppendAudit fills Seq and hashes into work. Retries pass work as the
	// last attempt left it: an attempt whose commit succeeded but whose
	// answer was lost left its Seq and Hash there, and the store recognises
	// the batch as written instead of appending it a second time.
	work := make([]store.AuditEntry, len(batch))
	copy(work, batch)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, l.writeTimeout)
		start := time.Now()
		err := l.st.AppendAudit(actx, work, Link)
		d := time.Since(start)
		cancel()
		if err == nil {
			l.obs.Written(d, len(batch))
			l.pending.Add(-int64(len(batch)))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		l.obs.WriteFailed()
		l.log.Error("audit write failed; retrying",
			slog.Int("entries", len(batch)), slog.Int("attempt", attempt),
			slog.Duration("retry_in", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		wait = min(2*wait, retryMax)
	}
}

// abandon runs when the writer is cancelled: it refuses further entries and
// logs every entry it will never write, so none is lost silently.
func (l *Log) abandon(ctx context.Context, batch []store.AuditEntry) {
	// Close the queue concurrently: Records blocked on a full queue hold
	// the read lock until their entry goes in, and draining lets them.
	go l.shut()
	// The entries stay counted in pending, so Close reports them.
	lost := func(e store.AuditEntry) {
		l.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError, "audit entry not written: writer stopped",
			entryAttrs(e)...)
	}
	for _, e := range batch {
		lost(e)
	}
	for e := range l.queue {
		lost(e)
	}
}

// entryAttrs are the fields that identify an entry in the logs.
func entryAttrs(e store.AuditEntry) []slog.Attr {
	return []slog.Attr{
		slog.Time("audit_time", e.Time),
		slog.String("actor", e.Actor),
		slog.String("action", e.Action),
		slog.String("event_id", e.EventID),
		slog.Int("kind", e.Kind),
		slog.String("channel", e.Channel),
		slog.String("detail", e.Detail),
	}
}

type nopObserver struct{}

func (nopObserver) Written(time.Duration, int) {}
func (nopObserver) WriteFailed()               {}
func (nopObserver) SendFailed()                {}
