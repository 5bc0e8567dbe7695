// Package redisbus carries live events and cache invalidations between relay
// nodes through Redis pub/sub (RELAY.md §7). Each node publishes every event
// it accepted and delivers the events other nodes published to its own
// subscribers, through the same scoped fan-out and read check as local ones.
//
// # Topics
//
// Everything lives under buzz:<namespace>: so relays in different namespaces
// share one Redis without seeing each other:
//
//	buzz:<ns>:channel:<uuid>   events carrying an h tag naming the channel
//	buzz:<ns>:global           every event, channel or not
//	buzz:<ns>:cache-invalidate membership / accessible-channels invalidations
//
// A subscription whose filter has no #h ("global") can match events of every
// channel as well as events of none, so an event is published to each of its
// channels' topics and to the global topic, atomically (MULTI/EXEC). A
// node whose fan-out index has any global subscription subscribes to the
// global topic only (it receives every event once); a node with only channel
// subscriptions subscribes to exactly those channels' topics. A node never
// subscribes to a topic it has no local subscriber for, and releases a topic a
// short linger (2 s by default) after its last local subscriber went away, so
// a client that closes and reopens a subscription does not churn Redis.
//
// A node's first subscription to a topic is in place when the fan-out
// index's Subscribe returns: the interest hook waits (up to a second, and not
// at all while Redis is unreachable) until Redis confirmed a SUBSCRIBE
// covering the channel. The ws layer subscribes and then reads the store, so
// an event another node stores after that read is already on its way here.
//
// While a node switches between the two modes it is briefly subscribed to
// both: the new topics are subscribed before the old ones are released, and
// since an event's publishes are atomic, Redis delivers each event under the
// old subscriptions or under the new ones, never half and half, so nothing is
// missed. An event with several h tags reaches a node once per matching
// topic, and a switch can deliver both copies. Exactly-once delivery per subscriber is kept by a bounded
// window of recently delivered (origin node, event id) pairs: the copies of
// one publish arrive next to each other on the node's single connection, so a
// window of a few thousand entries covers them.
//
// # Messages
//
// A message is a versioned JSON envelope:
//
//	{"v":1,"o":"<origin node id>","tc":{"traceparent":...},"ev":{<event>}}
//	{"v":1,"o":"<origin node id>","inv":{"channel":...,"pubkeys":[...]}}
//
// The origin id is random per process; a node drops its own echo by comparing
// the envelope's fixed prefix before decoding anything. tc carries the W3C
// trace context of the publisher's redis.publish span, so the receiving
// node's fan-out span belongs to the publisher's trace. The receiving node
// does not verify the event's signature again: the publishing node did, and
// Redis is inside the relay's trust boundary.
//
// # Flow and failure
//
// Publishing never blocks ingest: events and invalidations go into one
// queue bounded in messages and in bytes (64 MiB by default), in the order
// they were accepted, and one goroutine publishes them in pipelined batches. A full queue or a failed publish drops the
// message, counts it (Stats) and logs the state change. At shutdown what is
// still queued gets one flush of at most two seconds; the rest is counted as
// dropped.
//
// One pub/sub connection per node; its reader goroutine only hands messages
// to a queue bounded in messages and bytes (never blocking on fan-out) and
// one worker applies them in arrival order, so an invalidation published before an event is applied
// before that event is delivered. When the queue is full a message is dropped
// and counted (buzz_multinode_fanout_lag_total for events,
// buzz_cache_invalidation_lag_total for invalidations); a dropped
// invalidation, and every (re)connection, flushes the membership caches,
// since invalidations may have been missed. A lost connection is retried with
// capped, jittered exponential backoff; meanwhile local delivery goes on
// untouched and cross-node delivery resumes by itself once Redis is back.
package redisbus
