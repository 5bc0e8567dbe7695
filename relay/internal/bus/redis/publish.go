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

// publishTimeout bounds one pipelined publish; flushTimeout bounds the last
// one at shutdown.
const (
	publishTimeout = 2 * time.Second
	flushTimeout   = time.Second
)

// publishLoop publishes queued messages in batches until ctx ends, then
// makes one short attempt to publish what is still queued.
func (b *Bus) publishLoop(ctx context.Context) {
	batch := make([]outbound, 0, maxBatch)
	for {
		select {
		case o := <-b.out:
			batch = append(batch[:0], o)
		case <-ctx.Done():
			b.stopped.Store(true)
			b.flush(batch[:0])
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-b.out:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		b.publishBatch(pctx, batch)
		cancel()
	}
}

// flush publishes whatever is still queued when the bus stops.
func (b *Bus) flush(batch []outbound) {
	for {
		select {
		case o := <-b.out:
			batch = append(batch, o)
			if len(batch) < maxBatch {
				continue
			}
		default:
		}
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		ok := b.publishBatch(ctx, batch)
		cancel()
		if !ok {
			// Redis is not answering: what is left would fail the same way.
			for {
				select {
				case <-b.out:
					b.pubDropped.Add(1)
				default:
					return
				}
			}
		}
		batch = batch[:0]
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
