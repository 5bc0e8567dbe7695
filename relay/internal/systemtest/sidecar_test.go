package systemtest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/relaytest/proctest"
)

// sidecarProc is a statsd-sidecar process. Its port is fixed when first
// started, so a restarted sidecar is scraped where the old one was.
type sidecarProc struct {
	*proctest.Proc
	t    testing.TB
	env  []string
	base string // http://127.0.0.1:port
}

func startSidecar(t testing.TB, relayGRPC string) *sidecarProc {
	t.Helper()
	port := relaytest.FreePort(t)
	s := &sidecarProc{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port),
		env: []string{"BUZZ_RELAY_METRICS_ADDR=" + relayGRPC, fmt.Sprintf("BUZZ_METRICS_PORT=%d", port)}}
	s.start()
	return s
}

func (s *sidecarProc) start() {
	s.t.Helper()
	s.Proc, _ = proctest.Start(s.t, sidecarBin, proctest.Options{Name: "statsd-sidecar", Env: s.env, Ready: "listening"})
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get fetches path with the given Accept header ("" sends none).
func (s *sidecarProc) get(path, accept string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		return nil, nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// scrape is one parsed /metrics answer.
type scrape struct {
	body string
	fams map[string]*dto.MetricFamily
}

// tryScrape fetches and parses /metrics as Prometheus's text parser does.
func (s *sidecarProc) tryScrape() (*scrape, error) {
	resp, body, err := s.get("/metrics", "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d: %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w\n%s", err, body)
	}
	return &scrape{body: string(body), fams: fams}, nil
}

func (s *sidecarProc) scrape() *scrape {
	s.t.Helper()
	sc, err := s.tryScrape()
	if err != nil {
		s.t.Fatal(err)
	}
	return sc
}

// ready returns /readyz's status code.
func (s *sidecarProc) ready() int {
	s.t.Helper()
	resp, _, err := s.get("/readyz", "")
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode
}

// waitScrape scrapes until cond holds on a scrape (15 s at most) and returns
// that scrape; on time-out it fails with what and the last body.
func (s *sidecarProc) waitScrape(what string, cond func(*scrape) bool) *scrape {
	s.t.Helper()
	sc, ok, err := s.poll(cond)
	if !ok {
		body := "(none)"
		if sc != nil {
			body = sc.body
		}
		s.t.Fatalf("timed out waiting for %s on /metrics (last error %v); last body:\n%s", what, err, body)
	}
	return sc
}

// settle is waitScrape for callers that check the details themselves: on
// time-out it returns the last good scrape instead of failing.
func (s *sidecarProc) settle(cond func(*scrape) bool) *scrape {
	s.t.Helper()
	sc, ok, err := s.poll(cond)
	if sc == nil {
		s.t.Fatalf("no good scrape of /metrics: %v", err)
	}
	if !ok {
		s.t.Log("/metrics did not settle within 15 s; checking the last scrape")
	}
	return sc
}

func (s *sidecarProc) poll(cond func(*scrape) bool) (last *scrape, ok bool, lastErr error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		sc, err := s.tryScrape()
		if err == nil {
			last = sc
			if cond(sc) {
				return sc, true, nil
			}
		}
		lastErr = err
		if time.Now().After(deadline) {
			return last, false, lastErr
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// value returns the sample of family name whose labels are exactly
// labels ("k=v" pairs), and whether it exists. A histogram's value is its
// sample count.
func (sc *scrape) value(name string, labels ...string) (float64, bool) {
	f, ok := sc.fams[name]
	if !ok {
		return 0, false
	}
	want := strings.Join(labels, ",")
	for _, m := range f.GetMetric() {
		if labelKey(m) != want {
			continue
		}
		return metricValue(f.GetType(), m), true
	}
	return 0, false
}

// total is the sum of every series of a family (histograms: counts).
func (sc *scrape) total(name string) float64 {
	var sum float64
	for _, m := range sc.fams[name].GetMetric() {
		sum += metricValue(sc.fams[name].GetType(), m)
	}
	return sum
}

func metricValue(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	}
	return 0
}

func labelKey(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// monotonic flattens every counter and histogram series (count, sum and
// each bucket) into name{labels} → value: the samples that must never go
// down while one relay process lives.
func (sc *scrape) monotonic() map[string]float64 {
	out := map[string]float64{}
	for name, f := range sc.fams {
		for _, m := range f.GetMetric() {
			key := name + "{" + labelKey(m) + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[key+"_count"] = float64(h.GetSampleCount())
				out[key+"_sum"] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[fmt.Sprintf("%s_bucket{le=%g}", key, b.GetUpperBound())] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}
