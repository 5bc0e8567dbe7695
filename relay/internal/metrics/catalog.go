// Package metrics is the relay's in-process metric registry: the catalog of
// every family the relay exports (this file, which reads like METRICS.md) and
// the lock-free handles hot paths record into. Nothing here serves scrapes;
// package metricsrpc streams the registry to the statsd-sidecar.
package metrics

// Bucket bounds exactly as the exposition writes them in the "le" label.
var (
	httpLatencyBucketsMS = []string{"5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000"}
	durationBucketsS     = []string{"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5"}
	fanoutBuckets        = []string{"0", "1", "5", "10", "25", "50", "100", "500", "1000"}
)

// kindAllowList is the set of event kinds that get their own "kind" label
// value; every other kind is counted as "other". Inclusive ranges, ascending.
var kindAllowList = []kindRange{
	{0, 9}, {1059, 1059}, {1063, 1063}, {8000, 8003}, {9000, 9022}, {9030, 9036},
	{13534, 13535}, {20000, 29999}, {30023, 30023}, {30315, 30315}, {39000, 39003},
	{40002, 40100}, {41001, 41001}, {41010, 41012}, {43001, 43006}, {44100, 44101},
	{44200, 44200}, {45001, 45003}, {46001, 46012}, {46020, 46020}, {46030, 46031},
	{48001, 48001}, {48100, 48103}, {48106, 48106}, {49001, 49001},
}

// Fixed label values. Keeping them here keeps cardinality bounded by review.
const (
	// AuthMethodNIP42 is the only buzz_auth_attempts_total method.
	AuthMethodNIP42 = "nip42"

	// Auth failure reasons (buzz_auth_failures_total).
	AuthFailAllowlistDenied = "allowlist_denied"
	AuthFailNotRelayMember  = "not_relay_member"
	AuthFailNIP42Invalid    = "nip42_invalid"

	// Event rejection reasons (buzz_events_rejected_total): the OK message
	// prefix without its colon, "-" written as "_". A duplicate is not a
	// rejection (NIP-01 answers it with OK true), so there is no "duplicate".
	RejectAuthRequired = "auth_required"
	RejectInvalid      = "invalid"
	RejectRestricted   = "restricted"
	RejectRateLimited  = "rate_limited"
	RejectBlocked      = "blocked"
	RejectError        = "error"

	// Media upload rejection reasons (buzz_media_upload_rejections_total).
	MediaRejectRateLimit   = "rate_limit"
	MediaRejectConcurrency = "concurrency"

	// Workflow triggers (buzz_workflow_runs_total).
	TriggerMessagePosted = "message_posted"
	TriggerReactionAdded = "reaction_added"
	TriggerSchedule      = "schedule"
	TriggerWebhook       = "webhook"

	// LabelOther is the kind label for kinds outside the allow-list and every
	// label value of a vector's overflow series.
	LabelOther = "other"
	// LabelUnknown is the caller label when the header is absent or invalid.
	LabelUnknown = "unknown"
)

// Metrics holds a typed handle for every family in the catalog.
type Metrics struct {
	reg   registry
	codes [600]string // HTTP status code strings, so the middleware never formats

	// HTTP framework (the HTTP middleware).
	HTTPRequests  *CounterVec   // code, caller, action
	HTTPLatencyMS *HistogramVec // code, caller, action

	// WebSocket connections.
	WSConnections             *Counter
	WSActive                  *Gauge
	WSBackpressureDisconnects *Counter
	WSAuthTimeouts            *Counter

	// Subscriptions.
	SubscriptionsActive *Gauge

	// Event ingest.
	EventsReceived  *KindCounter
	EventsStored    *KindCounter
	EventsRejected  *CounterVec // reason
	EventProcessing *Histogram  // seconds

	// Fan-out and multi-node.
	FanoutRecipients     *Histogram
	MultinodeFanout      *Counter
	MultinodeFanoutLag   *Counter
	CacheInvalidationLag *Counter

	// Auth.
	AuthAttempts *CounterVec // method
	AuthFailures *CounterVec // reason

	// Media uploads and workflows: declared, no emitter yet.
	MediaUploads          *CounterVec // mime
	MediaUploadRejections *CounterVec // reason
	WorkflowRuns          *CounterVec // trigger

	// Audit log.
	AuditLog        *Histogram // seconds
	AuditLogErrors  *Counter
	AuditSendErrors *Counter

	// Caches.
	MembershipCacheHits           *Counter
	MembershipCacheMisses         *Counter
	AccessibleChannelsCacheHits   *Counter
	AccessibleChannelsCacheMisses *Counter

	// COUNT fallback.
	CountFallbackRejections *Counter

	// Connection pools (sampled; absent until the first sample).
	DBPoolSize         *Gauge
	DBPoolIdle         *Gauge
	DBPoolActive       *Gauge
	DBPoolMax          *Gauge
	RedisPoolSize      *Gauge
	RedisPoolAvailable *Gauge
	RedisPoolMax       *Gauge
	RedisPoolWaiting   *Gauge
}

// New builds the registry with every family of the catalog. Each call returns
// an independent registry (tests build their own).
func New() *Metrics {
	m := &Metrics{}
	r := &m.reg
	m.initCodes()

	m.HTTPRequests = r.counterVec("http_requests_total", "HTTP requests served.", "code", "caller", "action")
	m.HTTPLatencyMS = r.histogramVec("http_request_latency_ms", "Request latency in ms.", httpLatencyBucketsMS, "code", "caller", "action")

	m.WSConnections = r.counter("buzz_ws_connections_total", "WebSocket connections accepted.")
	m.WSActive = r.gauge("buzz_ws_connections_active", "Currently-open WebSocket connections.", knownAtStart)
	m.WSBackpressureDisconnects = r.counter("buzz_ws_backpressure_disconnects_total", "Connections dropped because the client could not keep up with the send queue.")
	m.WSAuthTimeouts = r.counter("buzz_ws_auth_timeouts_total", "Connections closed for failing to authenticate within the auth window.")

	m.SubscriptionsActive = r.gauge("buzz_subscriptions_active", "Currently-active REQ subscriptions across all connections.", knownAtStart)

	m.EventsReceived = r.kindCounter("buzz_events_received_total", "Events received over WS.")
	m.EventsStored = r.kindCounter("buzz_events_stored_total", "Events successfully persisted.")
	m.EventsRejected = r.counterVec("buzz_events_rejected_total", "Events rejected, labeled by reason.", "reason")
	m.EventProcessing = r.histogram("buzz_event_processing_seconds", "End-to-end event processing time.", durationBucketsS)

	m.FanoutRecipients = r.histogram("buzz_fanout_recipients", "Number of recipients per fanned-out event.", fanoutBuckets)
	m.MultinodeFanout = r.counter("buzz_multinode_fanout_total", "Cross-pod fan-out operations published to the pub/sub bus.")
	m.MultinodeFanoutLag = r.counter("buzz_multinode_fanout_lag_total", "Messages dropped because a pod's multi-node fan-out consumer lagged the broadcast channel.")
	m.CacheInvalidationLag = r.counter("buzz_cache_invalidation_lag_total", "Cache-invalidation messages dropped because a pod's consumer lagged.")

	m.AuthAttempts = r.counterVec("buzz_auth_attempts_total", "NIP-42 auth attempts.", "method")
	m.AuthFailures = r.counterVec("buzz_auth_failures_total", "Auth failures by reason.", "reason")

	m.MediaUploads = r.counterVec("buzz_media_uploads_total", "Successful media uploads, labeled by MIME type.", "mime")
	m.MediaUploadRejections = r.counterVec("buzz_media_upload_rejections_total", "Upload rejections.", "reason")
	m.WorkflowRuns = r.counterVec("buzz_workflow_runs_total", "Workflow runs, labeled by trigger kind.", "trigger")

	m.AuditLog = r.histogram("buzz_audit_log_seconds", "Audit-log write latency.", durationBucketsS)
	m.AuditLogErrors = r.counter("buzz_audit_log_errors_total", "Audit-log write failures.")
	m.AuditSendErrors = r.counter("buzz_audit_send_errors_total", "Failures sending audit entries downstream.")

	m.MembershipCacheHits = r.counter("buzz_membership_cache_hits_total", "Membership-cache hits.")
	m.MembershipCacheMisses = r.counter("buzz_membership_cache_misses_total", "Membership-cache misses.")
	m.AccessibleChannelsCacheHits = r.counter("buzz_accessible_channels_cache_hits_total", "Accessible-channels-cache hits.")
	m.AccessibleChannelsCacheMisses = r.counter("buzz_accessible_channels_cache_misses_total", "Accessible-channels-cache misses.")

	m.CountFallbackRejections = r.counter("buzz_count_fallback_rejections_total", "COUNT queries rejected for requiring a too-broad fallback scan.")

	m.DBPoolSize = r.gauge("buzz_db_pool_size", "Total Postgres pool connections.", unknownAtStart)
	m.DBPoolIdle = r.gauge("buzz_db_pool_idle", "Idle Postgres pool connections.", unknownAtStart)
	m.DBPoolActive = r.gauge("buzz_db_pool_active", "In-use Postgres pool connections (size - idle).", unknownAtStart)
	m.DBPoolMax = r.gauge("buzz_db_pool_max", "Configured Postgres pool max.", unknownAtStart)
	m.RedisPoolSize = r.gauge("buzz_redis_pool_size", "Current Redis pool connections.", unknownAtStart)
	m.RedisPoolAvailable = r.gauge("buzz_redis_pool_available", "Available (idle) Redis pool connections.", unknownAtStart)
	m.RedisPoolMax = r.gauge("buzz_redis_pool_max", "Configured Redis pool max.", unknownAtStart)
	m.RedisPoolWaiting = r.gauge("buzz_redis_pool_waiting", "Callers waiting on a Redis connection.", unknownAtStart)

	// The fixed label sets get their series up front, so they show at zero
	// from the start and With on them never takes the slow path.
	m.AuthAttempts.With(AuthMethodNIP42)
	for _, reason := range []string{AuthFailAllowlistDenied, AuthFailNotRelayMember, AuthFailNIP42Invalid} {
		m.AuthFailures.With(reason)
	}
	for _, reason := range []string{RejectAuthRequired, RejectInvalid, RejectRestricted, RejectRateLimited, RejectBlocked, RejectError} {
		m.EventsRejected.With(reason)
	}
	return m
}
