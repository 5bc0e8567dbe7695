// Package ingest is the one pipeline an event goes through once a client has
// sent it: validation, policy, storage, audit, reply, fan-out (spec §5).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/audit"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/telemetry"
)

// MaxContentBytes bounds an event's content (spec §5).
const MaxContentBytes = 262144

// Policy is what ingest needs from access control.
type Policy interface {
	CheckWrite(ctx context.Context, pubkey string, ev *nostr.Event) (*store.ChannelChange, error)
	Applied(ctx context.Context, ch *store.ChannelChange)
}

// Auditor records audit entries.
type Auditor interface {
	Record(ctx context.Context, e store.AuditEntry) error
}

// Publisher delivers an accepted event to live subscribers: the local fan-out
// index and, with Redis, other nodes.
type Publisher interface {
	Publish(ctx context.Context, ev *nostr.Event)
}

// Pipeline validates, stores, audits and publishes events.
type Pipeline struct {
	Store     store.Events
	Policy    Policy
	Audit     Auditor
	Publisher Publisher
	Metrics   *metrics.Metrics
	Tracer    trace.Tracer
	Log       *slog.Logger
	MaxAge    time.Duration
	MaxFuture time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Reply is what the client is told in its OK message.
type Reply struct {
	OK      bool
	Message string
}

func reject(prefix, msg string) Reply { return Reply{OK: false, Message: prefix + ": " + msg} }

// InternalError is the only text an internal failure shows a client (spec §2).
const InternalError = "error: internal error"

// Submit runs ev through the pipeline for the authenticated pubkey. reply is
// called exactly once, before fan-out, so the client learns the outcome
// before the event reaches other subscribers' queues.
func (p *Pipeline) Submit(ctx context.Context, pubkey string, ev *nostr.Event, reply func(Reply)) {
	// Once started, an event's way through storage and audit does not
	// depend on its connection staying open: a client that disconnects, or
	// a shutdown that closes the socket, must not cut it off half way.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	r, stored := p.accept(ctx, pubkey, ev)
	if reason, ok := rejectReason(r); ok {
		p.Metrics.EventsRejected.With(reason).Inc()
	}
	reply(r)
	p.Metrics.EventProcessing.Observe(time.Since(start).Seconds())
	if stored {
		p.Publisher.Publish(ctx, ev)
	}
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// accept returns the reply and whether the event should be fanned out.
func (p *Pipeline) accept(ctx context.Context, pubkey string, ev *nostr.Event) (Reply, bool) {
	if ev.Kind == nostr.KindAuth {
		return reject("invalid", "auth events are not accepted here"), false
	}
	if err := ev.Check(); err != nil {
		return reject("invalid", err.Error()), false
	}
	now := p.now().Unix()
	if ev.CreatedAt < now-int64(p.MaxAge/time.Second) {
		return reject("invalid", "created_at is too far in the past"), false
	}
	if ev.CreatedAt > now+int64(p.MaxFuture/time.Second) {
		return reject("invalid", "created_at is too far in the future"), false
	}
	if len(ev.Content) > MaxContentBytes {
		return reject("invalid", fmt.Sprintf("content is longer than %d bytes", MaxContentBytes)), false
	}
	if ev.PubKey != pubkey && ev.Kind != nostr.KindGiftWrap {
		return reject("invalid", "event pubkey does not match authenticated identity"), false
	}
	change, err := p.Policy.CheckWrite(ctx, pubkey, ev)
	if err != nil {
		var ref *access.Refusal
		if errors.As(err, &ref) {
			return Reply{OK: false, Message: ref.Error()}, false
		}
		p.Log.ErrorContext(ctx, "write policy failed", "event_id", ev.ID, "error", err)
		return Reply{Message: InternalError}, false
	}
	if nostr.IsEphemeral(ev.Kind) {
		return Reply{OK: true}, true
	}
	if err := p.save(ctx, ev, change); err != nil {
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Reply{OK: true, Message: "duplicate: already have this event"}, false
		case errors.Is(err, store.ErrSuperseded):
			return reject("duplicate", "a newer version of this event is already stored"), false
		case errors.Is(err, store.ErrDeleted):
			return reject("blocked", "this event was deleted by its author"), false
		case errors.Is(err, store.ErrChannelExists):
			return reject("duplicate", "channel already exists"), false
		case errors.Is(err, store.ErrNotFound):
			return reject("invalid", "unknown channel"), false
		}
		p.Log.ErrorContext(ctx, "store event failed", "event_id", ev.ID, "error", err)
		return Reply{Message: InternalError}, false
	}
	p.Metrics.EventsStored.Inc(ev.Kind)
	if change != nil {
		p.Policy.Applied(ctx, change)
	}
	p.record(ctx, pubkey, ev, change)
	return Reply{OK: true}, true
}

func (p *Pipeline) save(ctx context.Context, ev *nostr.Event, change *store.ChannelChange) error {
	ctx, span := p.Tracer.Start(ctx, telemetry.SpanStorePrefix+"save")
	defer span.End()
	err := p.Store.Save(ctx, ev, change)
	if err != nil && span.IsRecording() {
		span.SetAttributes(attribute.String("error.kind", err.Error()))
		span.SetStatus(codes.Error, "save failed")
	}
	return err
}

// record writes the audit entries of a stored event. A full queue has
// already waited its bounded time inside Record and been counted and logged
// there; the event stays accepted because it is durably stored.
func (p *Pipeline) record(ctx context.Context, actor string, ev *nostr.Event, change *store.ChannelChange) {
	channel, _ := ev.Tag("h")
	_ = p.Audit.Record(ctx, audit.EventStored(actor, ev, channel))
	if change == nil {
		return
	}
	switch {
	case change.Create != nil:
		_ = p.Audit.Record(ctx, audit.MembershipChanged(actor, change.Create.ID, change.Create.Creator, "create_channel"))
	case change.AddMember != "":
		_ = p.Audit.Record(ctx, audit.MembershipChanged(actor, change.Channel, change.AddMember, "add_member"))
	case change.RemoveMember != "":
		_ = p.Audit.Record(ctx, audit.MembershipChanged(actor, change.Channel, change.RemoveMember, "remove_member"))
	}
}

// rejectReason maps a refusal to its buzz_events_rejected_total reason: the
// OK prefix without its colon. A "duplicate:" answer is not a rejection (the
// relay has the event, or a newer version of it), so it is not counted.
func rejectReason(r Reply) (string, bool) {
	if r.OK {
		return "", false
	}
	prefix, _, _ := strings.Cut(r.Message, ":")
	switch prefix {
	case "auth-required":
		return metrics.RejectAuthRequired, true
	case "invalid":
		return metrics.RejectInvalid, true
	case "restricted":
		return metrics.RejectRestricted, true
	case "rate-limited":
		return metrics.RejectRateLimited, true
	case "blocked":
		return metrics.RejectBlocked, true
	case "duplicate":
		return "", false
	}
	return metrics.RejectError, true
}
