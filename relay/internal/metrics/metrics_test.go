package metrics

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/httpstatus"
)

// catalog is METRICS.md's table, written out independently of catalog.go.
var catalog = []struct {
	name    string
	typ     Type
	labels  []string
	buckets []string
}{
	{"http_requests_total", TypeCounter, []string{"code", "caller", "action"}, nil},
	{"http_request_latency_ms", TypeHistogram, []string{"code", "caller", "action"}, []string{"5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000"}},
	{"buzz_ws_connections_total", TypeCounter, nil, nil},
	{"buzz_ws_connections_active", TypeGauge, nil, nil},
	{"buzz_ws_backpressure_disconnects_total", TypeCounter, nil, nil},
	{"buzz_ws_auth_timeouts_total", TypeCounter, nil, nil},
	{"buzz_subscriptions_active", TypeGauge, nil, nil},
	{"buzz_events_received_total", TypeCounter, []string{"kind"}, nil},
	{"buzz_events_stored_total", TypeCounter, []string{"kind"}, nil},
	{"buzz_events_rejected_total", TypeCounter, []string{"reason"}, nil},
	{"buzz_event_processing_seconds", TypeHistogram, nil, []string{"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5"}},
	{"buzz_fanout_recipients", TypeHistogram, nil, []string{"0", "1", "5", "10", "25", "50", "100", "500", "1000"}},
	{"buzz_multinode_fanout_total", TypeCounter, nil, nil},
	{"buzz_multinode_fanout_lag_total", TypeCounter, nil, nil},
	{"buzz_cache_invalidation_lag_total", TypeCounter, nil, nil},
	{"buzz_auth_attempts_total", TypeCounter, []string{"method"}, nil},
	{"buzz_auth_failures_total", TypeCounter, []string{"reason"}, nil},
	{"buzz_media_uploads_total", TypeCounter, []string{"mime"}, nil},
	{"buzz_media_upload_rejections_total", TypeCounter, []string{"reason"}, nil},
	{"buzz_workflow_runs_total", TypeCounter, []string{"trigger"}, nil},
	{"buzz_audit_log_seconds", TypeHistogram, nil, []string{"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5"}},
	{"buzz_audit_log_errors_total", TypeCounter, nil, nil},
	{"buzz_audit_send_errors_total", TypeCounter, nil, nil},
	{"buzz_membership_cache_hits_total", TypeCounter, nil, nil},
	{"buzz_membership_cache_misses_total", TypeCounter, nil, nil},
	{"buzz_accessible_channels_cache_hits_total", TypeCounter, nil, nil},
	{"buzz_accessible_channels_cache_misses_total", TypeCounter, nil, nil},
	{"buzz_count_fallback_rejections_total", TypeCounter, nil, nil},
	{"buzz_db_pool_size", TypeGauge, nil, nil},
	{"buzz_db_pool_idle", TypeGauge, nil, nil},
	{"buzz_db_pool_active", TypeGauge, nil, nil},
	{"buzz_db_pool_max", TypeGauge, nil, nil},
	{"buzz_redis_pool_size", TypeGauge, nil, nil},
	{"buzz_redis_pool_available", TypeGauge, nil, nil},
	{"buzz_redis_pool_max", TypeGauge, nil, nil},
	{"buzz_redis_pool_waiting", TypeGauge, nil, nil},
}

func TestCatalogMatchesSpec(t *testing.T) {
	m := New()
	fams := m.Families()
	if len(fams) != len(catalog) {
		t.Fatalf("%d families, catalog has %d", len(fams), len(catalog))
	}
	for i, want := range catalog {
		f := fams[i]
		if f.Name() != want.name || f.Type() != want.typ || !slices.Equal(f.LabelNames(), want.labels) {
			t.Errorf("family %d = %s %v %v, want %s %v %v", i, f.Name(), f.Type(), f.LabelNames(), want.name, want.typ, want.labels)
		}
		if f.Help() == "" {
			t.Errorf("%s has no help", f.Name())
		}
		var les []string
		for j, b := range f.Buckets() {
			les = append(les, b.LE)
			if v, _ := strconv.ParseFloat(b.LE, 64); v != b.UpperBound {
				t.Errorf("%s bucket %d: %v vs %q", f.Name(), j, b.UpperBound, b.LE)
			}
		}
		if !slices.Equal(les, want.buckets) {
			t.Errorf("%s buckets %v, want %v", f.Name(), les, want.buckets)
		}
	}
}

// read returns the family's series keyed by joined label values.
func read(t *testing.T, m *Metrics, name string) map[string]Series {
	t.Helper()
	for _, f := range m.Families() {
		if f.Name() == name {
			out := map[string]Series{}
			for _, s := range f.AppendSeries(nil) {
				out[fmt.Sprint(s.LabelValues)] = s
			}
			return out
		}
	}
	t.Fatalf("no family %s", name)
	return nil
}

func TestInitialSeries(t *testing.T) {
	m := New()
	if got := read(t, m, "buzz_ws_connections_total"); len(got) != 1 || got["[]"].Value != 0 {
		t.Errorf("unlabelled counter should show 0 from the start: %v", got)
	}
	if got := read(t, m, "buzz_ws_connections_active"); len(got) != 1 {
		t.Errorf("active gauge should show 0 from the start: %v", got)
	}
	for _, name := range []string{"buzz_db_pool_size", "buzz_redis_pool_size", "buzz_redis_pool_waiting"} {
		if got := read(t, m, name); len(got) != 0 {
			t.Errorf("%s present before any sample: %v", name, got)
		}
	}
	if got := read(t, m, "buzz_events_rejected_total"); len(got) != 6 {
		t.Errorf("rejection reasons should be pre-created: %v", got)
	}
	if got := read(t, m, "buzz_media_uploads_total"); len(got) != 0 {
		t.Errorf("media uploads should be silent: %v", got)
	}
	if got := read(t, m, "buzz_event_processing_seconds"); len(got) != 1 || got["[]"].Count != 0 || len(got["[]"].BucketCounts) != 10 {
		t.Errorf("histogram: %v", got)
	}
}

func TestCounterGauge(t *testing.T) {
	m := New()
	m.WSConnections.Inc()
	m.WSConnections.Add(4)
	m.RedisPoolWaiting.Set(3)
	m.WSActive.Inc()
	m.WSActive.Inc()
	m.WSActive.Dec()
	m.SubscriptionsActive.Add(-2)
	if v := read(t, m, "buzz_ws_connections_total")["[]"].Value; v != 5 {
		t.Errorf("counter = %v", v)
	}
	if v := read(t, m, "buzz_redis_pool_waiting")["[]"].Value; v != 3 {
		t.Errorf("gauge = %v", v)
	}
	if v := read(t, m, "buzz_ws_connections_active")["[]"].Value; v != 1 {
		t.Errorf("active = %v", v)
	}
	if v := read(t, m, "buzz_subscriptions_active")["[]"].Value; v != -2 {
		t.Errorf("subs = %v", v)
	}
	if v, ok := m.RedisPoolSize.Value(); ok || v != 0 {
		t.Errorf("unset gauge = %v %v", v, ok)
	}
}

func TestHistogram(t *testing.T) {
	m := New()
	for _, v := range []float64{0, 0.001, 0.0011, 0.3, 5, 7, math.NaN(), math.Inf(1)} {
		m.EventProcessing.Observe(v)
	}
	s := read(t, m, "buzz_event_processing_seconds")["[]"]
	// bounds 0.001 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 5; le is inclusive.
	want := []uint64{2, 3, 3, 3, 3, 3, 3, 4, 4, 5}
	if !slices.Equal(s.BucketCounts, want) || s.Count != 7 {
		t.Errorf("buckets %v count %d, want %v 7", s.BucketCounts, s.Count, want)
	}
	if !math.IsInf(s.Sum, 1) {
		t.Errorf("sum = %v", s.Sum)
	}
	m.FanoutRecipients.Observe(0)
	m.FanoutRecipients.Observe(2)
	f := read(t, m, "buzz_fanout_recipients")["[]"]
	if f.BucketCounts[0] != 1 || f.BucketCounts[1] != 1 || f.BucketCounts[2] != 2 || f.Sum != 2 {
		t.Errorf("fanout %v sum %v", f.BucketCounts, f.Sum)
	}
}

func TestConcurrentRecording(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	const workers, each = 8, 5000
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m.HTTPRequests.With("200", "svc"+strconv.Itoa(w%3), "/x").Inc()
				m.AuditLog.Observe(0.5)
				m.EventsReceived.Inc(i % 20)
			}
		})
	}
	// A reader running concurrently must never see a count go down.
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last uint64
		for range 200 {
			s := read(t, m, "buzz_audit_log_seconds")["[]"]
			if s.Count < last || s.BucketCounts[len(s.BucketCounts)-1] > s.Count {
				t.Errorf("inconsistent reading %+v after %d", s, last)
			}
			last = s.Count
		}
	}()
	wg.Wait()
	<-done
	var total float64
	for _, s := range read(t, m, "http_requests_total") {
		total += s.Value
	}
	if total != workers*each {
		t.Errorf("total %v", total)
	}
	a := read(t, m, "buzz_audit_log_seconds")["[]"]
	if a.Count != workers*each || a.Sum != 0.5*workers*each {
		t.Errorf("audit %d %v", a.Count, a.Sum)
	}
	var kinds float64
	for _, s := range read(t, m, "buzz_events_received_total") {
		kinds += s.Value
	}
	if kinds != workers*each {
		t.Errorf("kinds %v", kinds)
	}
}

func TestKindLabel(t *testing.T) {
	cases := map[int]string{
		0: "0", 9: "9", 10: "other", 1059: "1059", 1060: "other", 1063: "1063",
		8000: "8000", 8003: "8003", 8004: "other", 9022: "9022", 9023: "other", 9030: "9030",
		9036: "9036", 13534: "13534", 13536: "other", 19999: "other", 20000: "20000",
		25000: "25000", 29999: "29999", 30000: "other", 30023: "30023", 30315: "30315",
		39003: "39003", 40001: "other", 40002: "40002", 40100: "40100", 41001: "41001",
		41012: "41012", 43006: "43006", 44101: "44101", 44200: "44200", 45003: "45003",
		46012: "46012", 46020: "46020", 46031: "46031", 48001: "48001", 48103: "48103",
		48104: "other", 48106: "48106", 49001: "49001", 49002: "other", -1: "other", 1 << 40: "other",
	}
	for k, want := range cases {
		if got := KindLabel(k); got != want {
			t.Errorf("KindLabel(%d) = %q, want %q", k, got, want)
		}
	}
	m := New()
	m.EventsStored.Inc(1)
	m.EventsStored.Inc(1)
	m.EventsStored.Inc(70000)
	m.EventsStored.Inc(12345)
	got := read(t, m, "buzz_events_stored_total")
	if len(got) != 2 || got["[1]"].Value != 2 || got["[other]"].Value != 2 {
		t.Errorf("stored = %v", got)
	}
}

func TestCallerLabel(t *testing.T) {
	cases := map[string]string{
		"": "unknown", "web-app.prod_1": "web-app.prod_1", "a b": "unknown", "x/y": "unknown",
		string(make([]byte, 65)): "unknown", "ü": "unknown",
	}
	long := ""
	for range 64 {
		long += "a"
	}
	cases[long] = long
	cases[long+"a"] = "unknown"
	for in, want := range cases {
		if got := CallerLabel(in); got != want {
			t.Errorf("CallerLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVecOverflowAndIDs(t *testing.T) {
	m := New()
	for i := range MaxChildren + 10 {
		m.MediaUploads.With("type/" + strconv.Itoa(i)).Inc()
	}
	m.MediaUploads.With("a", "b").Inc()             // wrong arity
	m.MediaUploads.With(string([]byte{0xff})).Inc() // invalid UTF-8
	got := read(t, m, "buzz_media_uploads_total")
	if len(got) != MaxChildren+1 || got["[other]"].Value != 12 {
		t.Errorf("%d series, overflow %v", len(got), got["[other]"])
	}
	if m.MediaUploads.Overflows() != 12 {
		t.Errorf("overflows = %d", m.MediaUploads.Overflows())
	}
	ids := map[int]bool{}
	for _, s := range got {
		if ids[s.ID] {
			t.Errorf("duplicate id %d", s.ID)
		}
		ids[s.ID] = true
	}
	// The same child comes back for the same values, even from a new string.
	a := m.HTTPRequests.With("200", "x", "/a")
	b := m.HTTPRequests.With(strconv.Itoa(200), "x", "/a")
	if a != b {
		t.Error("With returned different children for equal labels")
	}
}

func TestAppendSeriesReuse(t *testing.T) {
	m := New()
	m.HTTPLatencyMS.With("200", "a", "/x").Observe(3)
	f := m.Families()[1]
	buf := f.AppendSeries(nil)
	first := &buf[0].BucketCounts[0]
	m.HTTPLatencyMS.With("200", "a", "/x").Observe(30)
	buf = f.AppendSeries(buf[:0])
	if &buf[0].BucketCounts[0] != first {
		t.Error("bucket storage not reused")
	}
	if buf[0].Count != 2 || buf[0].BucketCounts[0] != 1 || buf[0].BucketCounts[3] != 2 {
		t.Errorf("reading %+v", buf[0])
	}
	prev := Series{Value: 1, BucketCounts: []uint64{1, 2}, Count: 2, Sum: 3}
	same := prev
	same.BucketCounts = []uint64{1, 2}
	if !prev.SameValues(&same) {
		t.Error("SameValues false for equal readings")
	}
	same.BucketCounts[1] = 3
	if prev.SameValues(&same) {
		t.Error("SameValues true for different buckets")
	}
}

func TestHTTPMiddleware(t *testing.T) {
	m := New()
	h := m.HTTPMiddleware("/api/things/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path, caller string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if caller != "" {
			req.Header.Set(CallerHeader, caller)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/api/things/1", "web")
	get("/api/things/2", "web")
	get("/api/things/3?fail=1", "bad caller!")
	get("/health", "web")
	get("/_internal", "web")
	get("/metrics", "web")
	reqs := read(t, m, "http_requests_total")
	if len(reqs) != 2 || reqs["[200 web /api/things/{id}]"].Value != 2 || reqs["[418 unknown /api/things/{id}]"].Value != 1 {
		t.Errorf("requests = %v", reqs)
	}
	lat := read(t, m, "http_request_latency_ms")["[200 web /api/things/{id}]"]
	if lat.Count != 2 || lat.Sum <= 0 {
		t.Errorf("latency = %+v", lat)
	}
}

func TestHTTPMux(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/channels/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(m.HTTPMux(mux))
	defer srv.Close()
	for _, p := range []string{"/api/channels/7", "/nope", "/healthz", "/api/channels/8"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	reqs := read(t, m, "http_requests_total")
	if len(reqs) != 1 || reqs["[204 unknown /api/channels/{id}]"].Value != 2 {
		t.Errorf("requests = %v", reqs)
	}
	if got := httpstatus.Route("example.com/a/{b}"); got != "/a/{b}" {
		t.Errorf("Route = %q", got)
	}
}

func TestRecordingDoesNotAllocate(t *testing.T) {
	m := New()
	m.HTTPRequests.With("200", "svc", "/a")
	code, caller, action := m.codeLabel(200), "svc", "/a"
	cases := map[string]func(){
		"counter":        func() { m.WSConnections.Inc() },
		"gauge":          func() { m.WSActive.Inc() },
		"histogram":      func() { m.EventProcessing.Observe(0.02) },
		"vec hit":        func() { m.HTTPRequests.With(code, caller, action).Inc() },
		"histogram vec":  func() { m.HTTPLatencyMS.With(code, caller, action).Observe(12) },
		"kind":           func() { m.EventsReceived.Inc(1) },
		"fixed reason":   func() { m.EventsRejected.With(RejectInvalid).Inc() },
		"observe http":   func() { m.ObserveHTTP(200, caller, action, time.Millisecond) },
		"kind ephemeral": func() { m.EventsReceived.Inc(20001) },
	}
	for name, f := range cases {
		f() // create the child
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocs per op", name, a)
		}
	}
}
