package redisbus

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/telemetry"
)

// maxBatch bounds how many queued messages go into one pipelined round trip.
const maxBatch = 256

// publishTimeout bounds one pipelined publish; flushTimeout bounds the
// whole last flush at shutdown, however many batches are left.
const (
	publishTimeout = 2 * time.Second
	flushTimeout   = 2 * time.Second
)

// publishLoop publishes queued messages in batches until ctx ends, then
// makes one short attempt to publish what is still queued.
func (b *Bus) publishLoop(ctx context.Context) {
	batch := make([]outbound, 0, maxBatch)
	for {
		select {
		case o := <-b.out:
			batch = append(batch[:0], b.dequeued(o))
		case <-ctx.Done():
			b.stopped.Store(true)
			b.flush(batch[:0])
			return
		}
		batch = b.fill(batch)
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		b.publishBatch(pctx, batch)
		cancel()
	}
}

// fill adds queued messages to batch, up to maxBatch, without waiting.
func (b *Bus) fill(batch []outbound) []outbound {
	for len(batch) < maxBatch {
		select {
		case o := <-b.out:
			batch = append(batch, b.dequeued(o))
		default:
			return batch
		}
	}
	return batch
}

// flush publishes whatever is still queued when the bus stops, within one
// flushTimeout overall; what it cannot publish is counted as dropped.
func (b *Bus) flush(batch []outbound) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	for {
		batch = b.fill(batch[:0])
		if len(batch) == 0 {
			return
		}
		if ctx.Err() != nil {
			b.pubDropped.Add(uint64(len(batch)))
			b.dropQueued()
			return
		}
		if !b.publishBatch(ctx, batch) {
			// Redis is not answering, or the time is up: what is left
			// would fail the same way.
			b.dropQueued()
			return
		}
	}
}

// publishBatch sends batch in one MULTI/EXEC transaction and reports
// whether it worked. The transaction matters: an event goes to several
// topics, and a node switching between global and per-channel mode
// subscribes the new topics before releasing the old ones; if its
// SUBSCRIBE/UNSUBSCRIBE could run between an event's PUBLISHes, it could see
// the channel copy before subscribing and the global copy after leaving,
// and miss the event. Atomic publishes see one state or the other, and
// either state covers the event.
func (b *Bus) publishBatch(ctx context.Context, batch []outbound) bool {
	pipe := b.client.TxPipeline()
	var spans []trace.Span
	var topics []string
	events := 0
	for i := range batch {
		o := &batch[i]
		if o.inv != nil {
			payload, err := appendInvalidationEnvelope(nil, b.selfPrefix, o.inv)
			if err != nil {
				b.pubDropped.Add(1)
				continue
			}
			pipe.Publish(ctx, b.invT, payload)
			continue
		}
		var tc map[string]string
		if o.sc.IsValid() {
			// The publish span is a child of the message's span, so the
			// receiving nodes' fan-out spans join the publisher's trace.
			sctx, span := b.tracer.Start(trace.ContextWithSpanContext(context.Background(), o.sc),
				telemetry.SpanRedisPrefix+"publish", trace.WithSpanKind(trace.SpanKindProducer))
			if span.IsRecording() {
				span.SetAttributes(attribute.String(telemetry.AttrEventID, o.ev.ID))
			}
			spans = append(spans, span)
			tc = telemetry.InjectMap(sctx)
		}
		payload := appendEventEnvelope(nil, b.selfPrefix, tc, o.ev)
		topics = b.eventTopics(o.ev, topics[:0])
		for _, t := range topics {
			pipe.Publish(ctx, t, payload)
		}
		events++
	}
	_, err := pipe.Exec(ctx)
	for _, s := range spans {
		s.End()
	}
	if err != nil {
		n := b.pubDropped.Add(uint64(len(batch)))
		if !b.pubState.Swap(true) {
			b.log.Warn("redis bus: publishing failed, messages dropped", "error", err.Error(), "dropped_total", n)
		}
		return false
	}
	if b.pubState.Swap(false) {
		b.log.Info("redis bus: publishing recovered", "dropped_total", b.pubDropped.Load())
	}
	b.published.Add(uint64(events))
	for range events {
		b.obs.Published()
	}
	return true
}
