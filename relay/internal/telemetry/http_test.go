package telemetry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/telemetry/otlptest"
)

func TestHTTPHandlerExportsServerSpans(t *testing.T) {
	rcv := otlptest.Start(t)
	tr := Start(context.Background(), env(EnvEndpoint, rcv.Addr), "v")
	if tr.Outcome != Enabled {
		t.Fatalf("outcome %v (%v)", tr.Outcome, tr.Err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/channels/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).IsRecording() {
			t.Error("handler context has no recording span")
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /api/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /raw", func(w http.ResponseWriter, _ *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nraw")
		_ = rw.Flush()
	})
	// served signals once HTTPHandler has returned and so ended its span; a
	// hijacked connection answers the client before that happens.
	served := make(chan struct{}, 8)
	traced := HTTPHandler(tr.Tracer, mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traced.ServeHTTP(w, r)
		served <- struct{}{}
	}))
	defer srv.Close()

	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/channels/general", nil)
	req.Header.Set("traceparent", fmt.Sprintf("00-%s-%s-01", callerTrace, callerSpan))
	for _, r := range []*http.Request{req, mustRequest(t, http.MethodPost, srv.URL+"/api/fail"), mustRequest(t, http.MethodGet, srv.URL+"/raw"), mustRequest(t, "BREW", srv.URL+"/nowhere")} {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.URL, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	for range 4 {
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("handlers did not return")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	byName := map[string]otlptest.Span{}
	for _, s := range rcv.Spans() {
		byName[s.Span.GetName()] = s
	}
	want := map[string]map[string]string{
		"GET /api/channels/{id}": {"http.route": "/api/channels/{id}", "http.response.status_code": "200", "url.path": "/api/channels/general"},
		"POST /api/fail":         {"http.response.status_code": "500"},
		"GET /raw":               {"http.response.status_code": "101"},
		"_OTHER":                 {"http.request.method": "_OTHER", "http.response.status_code": "404"},
	}
	if len(byName) != len(want) {
		t.Fatalf("got spans %v, want %d", keys(byName), len(want))
	}
	for name, attrs := range want {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no span %q among %v", name, keys(byName))
			continue
		}
		got := otlptest.Attrs(s.Span.GetAttributes())
		for k, v := range attrs {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got[k], v)
			}
		}
	}
	g := byName["GET /api/channels/{id}"].Span
	if fmt.Sprintf("%x", g.GetTraceId()) != callerTrace || fmt.Sprintf("%x", g.GetParentSpanId()) != callerSpan {
		t.Errorf("server span trace %x parent %x, want caller's %s %s", g.GetTraceId(), g.GetParentSpanId(), callerTrace, callerSpan)
	}
	if byName["POST /api/fail"].Span.GetStatus().GetCode() != 2 { // STATUS_CODE_ERROR
		t.Errorf("5xx span status %v, want error", byName["POST /api/fail"].Span.GetStatus())
	}
}

func TestHTTPHandlerDisabledPassesThrough(t *testing.T) {
	tr := Start(context.Background(), env(), "v")
	var sawWriter http.ResponseWriter
	h := HTTPHandler(tr.Tracer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawWriter = w
		if trace.SpanFromContext(r.Context()).IsRecording() {
			t.Error("recording span with tracing disabled")
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusTeapot || sawWriter != http.ResponseWriter(rec) {
		t.Fatalf("code %d, writer %T; want the original writer untouched", rec.Code, sawWriter)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func keys(m map[string]otlptest.Span) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
