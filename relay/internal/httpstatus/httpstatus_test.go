package httpstatus

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStatus(t *testing.T) {
	for name, tc := range map[string]struct {
		h    http.HandlerFunc
		want int
	}{
		"nothing written": {func(http.ResponseWriter, *http.Request) {}, 200},
		"body only":       {func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("x")) }, 200},
		"explicit":        {func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503); w.WriteHeader(200) }, 503},
		"hijacked": {func(w http.ResponseWriter, _ *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		}, 101},
	} {
		var got int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := New(w)
			tc.h(rec, r)
			got = rec.Status()
		}))
		resp, err := http.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		srv.Close()
		if got != tc.want {
			t.Errorf("%s: status %d, want %d", name, got, tc.want)
		}
	}
}

func TestRoute(t *testing.T) {
	for in, want := range map[string]string{
		"GET /info":               "/info",
		"example.com/a/{b}":       "/a/{b}",
		"GET  example.com/x/{id}": "/x/{id}",
		"/":                       "/",
		"":                        "",
	} {
		if got := Route(in); got != want {
			t.Errorf("Route(%q) = %q, want %q", in, got, want)
		}
	}
}
