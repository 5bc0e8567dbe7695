package systemtest

import (
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// Accept headers Prometheus sends by default: 3.x, then 2.x. Whatever they
// offer, /metrics must answer text 0.0.4 (the Datadog OpenMetrics check and
// every existing scrape config were built against that format).
var acceptHeaders = []string{
	"text/plain",
	"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
}

// checkContentType scrapes /metrics with each Accept header above.
func checkContentType(t *testing.T, s *sidecarProc) {
	t.Helper()
	for _, accept := range acceptHeaders {
		resp, body, err := s.get("/metrics", accept)
		if err != nil {
			t.Fatal(err)
		}
		ct := resp.Header.Get("Content-Type")
		mt, params, err := mime.ParseMediaType(ct)
		if resp.StatusCode != http.StatusOK || err != nil || mt != "text/plain" || params["version"] != "0.0.4" {
			t.Errorf("Accept %q: HTTP %d, Content-Type %q (%v), want text/plain; version=0.0.4", accept, resp.StatusCode, ct, err)
		}
		if strings.Contains(string(body), "# EOF") {
			t.Errorf("Accept %q: body is OpenMetrics (has # EOF)", accept)
		}
	}
}

var bucketLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\{(.*)\} \S+$`)
var leLabel = regexp.MustCompile(`(^|,)le="([^"]*)"`)

// rawBuckets reads the "le" strings exactly as written, per family and per
// series (the labels other than le); the text parser keeps only floats.
func rawBuckets(body string) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, line := range strings.Split(body, "\n") {
		m := bucketLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		le := leLabel.FindStringSubmatch(m[2])
		if le == nil {
			continue
		}
		series := leLabel.ReplaceAllString(m[2], "")
		if out[m[1]] == nil {
			out[m[1]] = map[string][]string{}
		}
		out[m[1]][series] = append(out[m[1]][series], le[2])
	}
	return out
}

// checkCatalog compares every family on a scrape with the catalog: the set
// of families, then each one's type, help, label names, bucket strings and
// the value its expectation asks for. Families the design leaves absent
// cannot show metadata on /metrics; that they are absent is what is checked.
func checkCatalog(t *testing.T, sc *scrape) {
	t.Helper()
	known := map[string]bool{}
	for _, c := range catalog {
		known[c.name] = true
	}
	for name := range sc.fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || name == "target_info" ||
			strings.HasPrefix(name, "otel_scope") || strings.HasPrefix(name, "buzz_sidecar_") {
			t.Errorf("foreign family %s on /metrics", name)
		} else if !known[name] {
			t.Errorf("family %s is not in the catalog", name)
		}
	}
	buckets := rawBuckets(sc.body)
	for _, c := range catalog {
		f, ok := sc.fams[c.name]
		if c.want == absent {
			if ok {
				t.Errorf("%s: want absent, got %d series", c.name, len(f.GetMetric()))
			}
			continue
		}
		if !ok || len(f.GetMetric()) == 0 {
			t.Errorf("%s: missing from /metrics", c.name)
			continue
		}
		if f.GetType() != c.typ {
			t.Errorf("%s: type %s, want %s", c.name, f.GetType(), c.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no HELP", c.name)
		}
		wantLabels := slices.Sorted(slices.Values(c.labels))
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			slices.Sort(got)
			if !slices.Equal(got, wantLabels) {
				t.Errorf("%s: series {%s} has labels %v, want %v", c.name, labelKey(m), got, wantLabels)
			}
		}
		if c.typ == dto.MetricType_HISTOGRAM {
			want := append(slices.Clone(c.buckets), "+Inf")
			if len(buckets[c.name]) != len(f.GetMetric()) {
				t.Errorf("%s: %d series with buckets, %d series", c.name, len(buckets[c.name]), len(f.GetMetric()))
			}
			for series, les := range buckets[c.name] {
				if !slices.Equal(les, want) {
					t.Errorf("%s{%s}: le %q, want %q", c.name, series, les, want)
				}
			}
		} else if len(buckets[c.name]) != 0 {
			t.Errorf("%s: not a histogram but has _bucket lines", c.name)
		}
		switch c.want {
		case nonZero:
			if sc.total(c.name) == 0 {
				t.Errorf("%s: every sample is zero, but the traffic reached its code path", c.name)
			}
		case zeroed:
			if v := sc.total(c.name); v != 0 {
				t.Errorf("%s = %v without Redis, want 0", c.name, v)
			}
		}
	}
}
