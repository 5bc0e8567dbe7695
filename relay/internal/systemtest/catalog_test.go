package systemtest

import (
	dto "github.com/prometheus/client_model/go"
)

// expect says what a family must show after the golden test's traffic.
type expect int

const (
	// nonZero: the code path exists and the traffic reaches it; some sample
	// must be non-zero.
	nonZero expect = iota
	// present: a sampled gauge whose value may legitimately be zero (idle
	// or active pool connections); it must be there.
	present
	// zeroed: an unlabelled counter of a feature that needs Redis; the
	// registry shows it at 0 from the start, and without Redis it stays 0.
	zeroed
	// absent: a labelled family with no emitter yet (media, workflows), or a
	// Redis pool gauge without Redis: no series at all, never invented
	// zeros.
	absent
)

var (
	latencyMS = []string{"5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000"}
	seconds   = []string{"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5"}
	fanout    = []string{"0", "1", "5", "10", "25", "50", "100", "500", "1000"}
)

// catalog is METRICS.md's table, copied by hand and independent of the
// relay's own catalog.go, so a change on either side shows up here.
var catalog = []struct {
	name    string
	typ     dto.MetricType
	labels  []string
	buckets []string
	want    expect
}{
	{"http_requests_total", dto.MetricType_COUNTER, []string{"code", "caller", "action"}, nil, nonZero},
	{"http_request_latency_ms", dto.MetricType_HISTOGRAM, []string{"code", "caller", "action"}, latencyMS, nonZero},
	{"buzz_ws_connections_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_ws_connections_active", dto.MetricType_GAUGE, nil, nil, nonZero},
	{"buzz_ws_backpressure_disconnects_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_ws_auth_timeouts_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_subscriptions_active", dto.MetricType_GAUGE, nil, nil, nonZero},
	{"buzz_events_received_total", dto.MetricType_COUNTER, []string{"kind"}, nil, nonZero},
	{"buzz_events_stored_total", dto.MetricType_COUNTER, []string{"kind"}, nil, nonZero},
	{"buzz_events_rejected_total", dto.MetricType_COUNTER, []string{"reason"}, nil, nonZero},
	{"buzz_event_processing_seconds", dto.MetricType_HISTOGRAM, nil, seconds, nonZero},
	{"buzz_fanout_recipients", dto.MetricType_HISTOGRAM, nil, fanout, nonZero},
	{"buzz_multinode_fanout_total", dto.MetricType_COUNTER, nil, nil, zeroed},
	{"buzz_multinode_fanout_lag_total", dto.MetricType_COUNTER, nil, nil, zeroed},
	{"buzz_cache_invalidation_lag_total", dto.MetricType_COUNTER, nil, nil, zeroed},
	{"buzz_auth_attempts_total", dto.MetricType_COUNTER, []string{"method"}, nil, nonZero},
	{"buzz_auth_failures_total", dto.MetricType_COUNTER, []string{"reason"}, nil, nonZero},
	{"buzz_media_uploads_total", dto.MetricType_COUNTER, []string{"mime"}, nil, absent},
	{"buzz_media_upload_rejections_total", dto.MetricType_COUNTER, []string{"reason"}, nil, absent},
	{"buzz_workflow_runs_total", dto.MetricType_COUNTER, []string{"trigger"}, nil, absent},
	{"buzz_audit_log_seconds", dto.MetricType_HISTOGRAM, nil, seconds, nonZero},
	{"buzz_audit_log_errors_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_audit_send_errors_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_membership_cache_hits_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_membership_cache_misses_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_accessible_channels_cache_hits_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_accessible_channels_cache_misses_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_count_fallback_rejections_total", dto.MetricType_COUNTER, nil, nil, nonZero},
	{"buzz_db_pool_size", dto.MetricType_GAUGE, nil, nil, nonZero},
	{"buzz_db_pool_idle", dto.MetricType_GAUGE, nil, nil, present},
	{"buzz_db_pool_active", dto.MetricType_GAUGE, nil, nil, present},
	{"buzz_db_pool_max", dto.MetricType_GAUGE, nil, nil, nonZero},
	{"buzz_redis_pool_size", dto.MetricType_GAUGE, nil, nil, absent},
	{"buzz_redis_pool_available", dto.MetricType_GAUGE, nil, nil, absent},
	{"buzz_redis_pool_max", dto.MetricType_GAUGE, nil, nil, absent},
	{"buzz_redis_pool_waiting", dto.MetricType_GAUGE, nil, nil, absent},
}
