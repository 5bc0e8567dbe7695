package ws

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/ingest"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/telemetry"
)

// Bounds the spec leaves open: every open subscription keeps its filters and
// every live event is matched against them, so their size is memory and CPU
// a single client could otherwise claim without limit.
const (
	maxChannels = 128
	// maxValuesPerList bounds each ids/authors/kinds/#tag list.
	maxValuesPerList = 1000
	// maxValuesPerRequest bounds all filter values of one REQ or COUNT.
	maxValuesPerRequest = 5000
)

// readLoop reads and handles messages one at a time until the connection
// ends. Handling in order keeps each client's OKs in the order it sent its
// events, and makes "in-flight handlers finish" at shutdown a simple wait.
func (c *Conn) readLoop() {
	defer close(c.readDone)
	defer c.h.Index.UnsubscribeAll(c)
	defer c.shutdown(websocket.CloseNormalClosure, "")

	c.ws.SetPongHandler(func(string) error { c.pongs.Store(0); return nil })
	authTimer := time.AfterFunc(c.h.AuthTimeout, func() {
		if c.Pubkey() == "" {
			c.h.Metrics.WSAuthTimeouts.Inc()
			c.shutdown(closePolicy, "auth-required: authentication window expired")
		}
	})
	defer authTimer.Stop()

	// The handlers' context ends when the connection does, so a blocked
	// reply gives up with it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.closed:
			cancel()
		case <-ctx.Done():
		}
	}()

	if c.reply(ctx, nostr.AuthFrame(c.challenge)) != nil {
		return
	}
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has already sent close 1009 (message too big).
				c.log.Info("frame too large", "limit", c.h.MaxFrameBytes)
			}
			return
		}
		if typ != websocket.TextMessage {
			_ = c.reply(ctx, nostr.NoticeFrame("invalid: binary frames are not supported"))
			continue
		}
		c.handle(ctx, data)
		select {
		case <-c.closed:
			return
		default:
		}
	}
}

func (c *Conn) handle(ctx context.Context, data []byte) {
	msg, err := nostr.ParseMessage(data)
	if err != nil {
		var se *nostr.SubIDError
		if errors.As(err, &se) {
			c.closeRefused(ctx, se.Type, se.SubID, err.Error())
			return
		}
		_ = c.reply(ctx, nostr.NoticeFrame(err.Error()))
		return
	}
	switch m := msg.(type) {
	case *nostr.AuthMessage:
		c.handleAuth(ctx, m.Event)
	case *nostr.EventMessage:
		c.handleEvent(ctx, m.Event)
	case *nostr.ReqMessage:
		c.handleReq(ctx, m.SubID, m.Filters)
	case *nostr.CountMessage:
		c.handleCount(ctx, m.SubID, m.Filters)
	case *nostr.CloseMessage:
		c.h.Index.Unsubscribe(c, m.SubID)
		_ = c.reply(ctx, nostr.ClosedFrame(m.SubID, ""))
	}
}

func (c *Conn) span(ctx context.Context, name string) (context.Context, trace.Span) {
	ctx, span := c.h.Tracer.Start(ctx, name)
	if span.IsRecording() {
		span.SetAttributes(attribute.Int64(telemetry.AttrConnID, int64(c.id)))
	}
	return ctx, span
}

func (c *Conn) handleAuth(ctx context.Context, ev *nostr.Event) {
	ctx, span := c.span(ctx, telemetry.SpanAuth)
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.String(telemetry.AttrEventID, ev.ID))
	}
	m := c.h.Metrics
	m.AuthAttempts.With(metrics.AuthMethodNIP42).Inc()
	switch {
	case c.Pubkey() != "":
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, false, "auth-required: already authenticated"))
		return
	case c.authFailed:
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, false, "auth-required: authentication already failed"))
		return
	}
	if err := nostr.CheckAuthEvent(ev, c.challenge, c.h.RelayURL, time.Now()); err != nil {
		c.authFailed = true
		m.AuthFailures.With(metrics.AuthFailNIP42Invalid).Inc()
		c.log.Info("auth rejected", "reason", err.Error())
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, false, "auth-required: verification failed"))
		return
	}
	decision, err := c.h.Access.Authorize(ctx, ev.PubKey)
	if err != nil {
		c.log.Error("authorize failed", "error", err)
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, false, ingest.InternalError))
		return
	}
	switch decision {
	case access.AuthDeniedAllowlist:
		c.authFailed = true
		m.AuthFailures.With(metrics.AuthFailAllowlistDenied).Inc()
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, false, "auth-required: verification failed"))
		return
	case access.AuthDeniedNotRelayMember:
		c.authFailed = true
		m.AuthFailures.With(metrics.AuthFailNotRelayMember).Inc()
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, false, "restricted: not a relay member"))
		return
	}
	pk := ev.PubKey
	c.pubkey.Store(&pk)
	c.log.Info("authenticated", "pubkey", pk)
	_ = c.reply(ctx, nostr.OKFrame(ev.ID, true, ""))
}

func (c *Conn) handleEvent(ctx context.Context, ev *nostr.Event) {
	ctx, span := c.span(ctx, telemetry.SpanEvent)
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.String(telemetry.AttrEventID, ev.ID), attribute.Int(telemetry.AttrKind, ev.Kind))
	}
	c.h.Metrics.EventsReceived.Inc(ev.Kind)
	pubkey := c.Pubkey()
	if pubkey == "" {
		c.h.Metrics.EventsRejected.With(metrics.RejectAuthRequired).Inc()
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, false, "auth-required: authenticate first"))
		return
	}
	c.h.Ingest.Submit(ctx, pubkey, ev, func(r ingest.Reply) {
		_ = c.reply(ctx, nostr.OKFrame(ev.ID, r.OK, r.Message))
	})
}

// checkFilters applies the REQ/COUNT limits and clamps limits. It returns
// the CLOSED message for a refusal, or "". The number of filters is already
// bounded by nostr.ParseMessage.
func checkFilters(filters []nostr.Filter) string {
	channels, values := 0, 0
	for i := range filters {
		f := &filters[i]
		channels += len(f.Tags["h"])
		lists := []int{len(f.IDs), len(f.Authors), len(f.Kinds)}
		for _, vals := range f.Tags {
			lists = append(lists, len(vals))
		}
		for _, n := range lists {
			if n > maxValuesPerList {
				return fmt.Sprintf("invalid: a filter list may hold at most %d values", maxValuesPerList)
			}
			values += n
		}
		l := nostr.MaxLimit
		if f.Limit != nil && *f.Limit < nostr.MaxLimit {
			l = *f.Limit
		}
		f.Limit = &l
	}
	if channels > maxChannels {
		return "restricted: too many explicit channels"
	}
	if values > maxValuesPerRequest {
		return fmt.Sprintf("invalid: filters may hold at most %d values in all", maxValuesPerRequest)
	}
	return ""
}

// closeRefused answers a refused REQ or COUNT with CLOSED. A refused REQ also
// ends an open subscription with the same id: the client was told it is
// closed, so it must not keep receiving events.
func (c *Conn) closeRefused(ctx context.Context, typ, subID, msg string) {
	if typ == "REQ" {
		c.h.Index.Unsubscribe(c, subID)
	}
	_ = c.reply(ctx, nostr.ClosedFrame(subID, msg))
}

// openRead is the common start of REQ and COUNT: the span, the auth check,
// the limits of spec §2 and the caller's read scope. ok is false when the
// request has already been answered with CLOSED.
func (c *Conn) openRead(ctx context.Context, typ, spanName, subID string, filters []nostr.Filter) (_ context.Context, _ trace.Span, scope store.Scope, ok bool) {
	ctx, span := c.span(ctx, spanName)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(telemetry.AttrSubID, subID))
	}
	pubkey := c.Pubkey()
	if pubkey == "" {
		c.closeRefused(ctx, typ, subID, "auth-required: authenticate first")
		return ctx, span, scope, false
	}
	if msg := checkFilters(filters); msg != "" {
		c.closeRefused(ctx, typ, subID, msg)
		return ctx, span, scope, false
	}
	scope, err := c.h.Access.Scope(ctx, pubkey)
	if err != nil {
		c.log.Error("read scope failed", "error", err)
		c.closeRefused(ctx, typ, subID, ingest.InternalError)
		return ctx, span, scope, false
	}
	return ctx, span, scope, true
}

func (c *Conn) handleReq(ctx context.Context, subID string, filters []nostr.Filter) {
	ctx, span, scope, ok := c.openRead(ctx, "REQ", telemetry.SpanReq, subID, filters)
	defer span.End()
	if !ok {
		return
	}
	if c.h.Index.Count(c) >= nostr.MaxSubscriptions {
		// A REQ reusing an open id replaces it, so only new ids are refused.
		if !c.h.Index.Unsubscribe(c, subID) {
			_ = c.reply(ctx, nostr.ClosedFrame(subID, "error: too many subscriptions"))
			return
		}
	}
	// Subscribe before querying so nothing stored in between is missed, and
	// hold the live events back until EOSE; one that is also among the
	// stored results is sent once.
	c.hold(subID)
	released := false
	defer func() {
		if !released {
			c.drop(subID)
		}
	}()
	c.h.Index.Subscribe(c, subID, filters)
	qctx, qspan := c.h.Tracer.Start(ctx, telemetry.SpanStorePrefix+"query")
	events, err := c.h.Store.Query(qctx, filters, scope)
	qspan.End()
	if err != nil {
		c.h.Index.Unsubscribe(c, subID)
		c.log.Error("query failed", "error", err)
		_ = c.reply(ctx, nostr.ClosedFrame(subID, ingest.InternalError))
		return
	}
	sent := make(map[string]struct{}, len(events))
	for _, ev := range events {
		if c.reply(ctx, nostr.EventFrame(subID, ev)) != nil {
			return
		}
		sent[ev.ID] = struct{}{}
	}
	if c.reply(ctx, nostr.EOSEFrame(subID)) != nil {
		return
	}
	c.release(ctx, subID, sent)
	released = true
}
