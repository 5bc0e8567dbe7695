package exposition

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
)

// Stream is what the handlers need to know about the relay connection.
type Stream interface {
	Connected() bool
	Reconnects() uint64
}

// ContentType is the one format /metrics serves: Prometheus text 0.0.4,
// whatever the Accept header asks, as the relay's old endpoint did.
const ContentType = string(expfmt.FmtText)

// NewHandler returns the sidecar's HTTP routes.
func NewHandler(st *state.State, stream Stream, log *slog.Logger) http.Handler {
	relay := prometheus.NewRegistry() // its own registry: no Go/process collectors
	relay.MustRegister(collector{st: st})

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(relay, st, log))
	mux.Handle("GET /sidecar/metrics", promhttp.HandlerFor(selfRegistry(st, stream), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		stats := st.Stats()
		body := map[string]any{"ready": false, "series": stats.Series}
		if !stats.LastUpdate.IsZero() {
			body["last_update_age_seconds"] = time.Since(stats.LastUpdate).Seconds()
		}
		switch {
		case !stats.HaveSnapshot:
			body["reason"] = "no snapshot from the relay yet"
		case !stream.Connected():
			body["reason"] = "relay metrics stream disconnected; serving last known values"
		default:
			body["ready"] = true
			writeJSON(w, http.StatusOK, body)
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, body)
	})
	return mux
}

// metricsHandler gathers and encodes text 0.0.4 itself rather than through
// promhttp, whose content negotiation would answer Prometheus's default
// Accept header with another format.
func metricsHandler(reg *prometheus.Registry, st *state.State, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rewrites := leRewrites(st)
		mfs, err := reg.Gather()
		if err != nil {
			// Gather still returns everything it could; serve that.
			log.Warn("gather relay metrics", "err", err)
		}
		w.Header().Set("Content-Type", ContentType)
		var buf bytes.Buffer
		for _, mf := range mfs {
			r := rewrites[mf.GetName()]
			if r == nil {
				if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
					return // client went away
				}
				continue
			}
			buf.Reset()
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				log.Warn("encode relay metrics", "family", mf.GetName(), "err", err)
				continue
			}
			if err := rewriteLE(w, &buf, r); err != nil {
				return
			}
		}
	})
}

// leRewrites returns, per histogram family whose "le" text (as the relay
// wrote it, which the contract says /metrics shows) differs from how expfmt
// formats the bound (strconv 'g', shortest: 1000000 prints as 1e+06), a
// replacer from the formatted label pair to the relay's. The catalog's
// bounds all format identically today, so this is normally empty and
// /metrics is plain expfmt output.
func leRewrites(st *state.State) map[string]*strings.Replacer {
	var out map[string]*strings.Replacer
	st.Visit(func(f *state.Family) {
		if f.Type != state.Histogram {
			return
		}
		var pairs []string
		for _, b := range f.Buckets {
			if got := formatBound(b.UpperBound); got != b.LE {
				// The le pair is always the last label of a bucket line;
				// label values escape '"', so neither pattern can occur
				// inside one.
				pairs = append(pairs,
					`{le="`+got+`"}`, `{le="`+b.LE+`"}`,
					`,le="`+got+`"}`, `,le="`+b.LE+`"}`)
			}
		}
		if pairs != nil {
			if out == nil {
				out = map[string]*strings.Replacer{}
			}
			out[f.Name] = strings.NewReplacer(pairs...)
		}
	})
	return out
}

// formatBound is the text expfmt writes for a finite bound: shortest 'g',
// except that it writes every zero (-0 too) as "0".
func formatBound(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// rewriteLE copies one family's text to w, applying r to its sample lines
// (never to HELP and TYPE, whose text is the relay's own).
func rewriteLE(w http.ResponseWriter, text *bytes.Buffer, r *strings.Replacer) error {
	bw := bufio.NewWriter(w)
	for line := range strings.Lines(text.String()) {
		var err error
		if strings.HasPrefix(line, "#") {
			_, err = bw.WriteString(line)
		} else {
			_, err = r.WriteString(bw, line)
		}
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// selfRegistry holds the sidecar's own metrics, never shown on /metrics.
func selfRegistry(st *state.State, stream Stream) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("buzz_sidecar_relay_connected", "1 while the relay metrics stream is live.", func() float64 {
		if stream.Connected() {
			return 1
		}
		return 0
	})
	gauge("buzz_sidecar_last_update_age_seconds", "Seconds since the last message from the relay (-1 before any).", func() float64 {
		if lu := st.Stats().LastUpdate; !lu.IsZero() {
			return time.Since(lu).Seconds()
		}
		return -1
	})
	gauge("buzz_sidecar_series", "Series held for the relay.", func() float64 { return float64(st.Stats().Series) })
	counter("buzz_sidecar_dropped_series_total", "Series refused by the per-family or total series cap.", func() float64 { return float64(st.Stats().DroppedSeries) })
	counter("buzz_sidecar_invalid_series_total", "Series refused as malformed or over the label-value length limit.", func() float64 { return float64(st.Stats().InvalidSeries) })
	counter("buzz_sidecar_skipped_families_total", "Families skipped for an unknown type, invalid names or buckets, or a size limit.", func() float64 { return float64(st.Stats().SkippedFamilies) })
	counter("buzz_sidecar_relay_restarts_total", "Relay process identity changes seen.", func() float64 { return float64(st.Stats().IdentityChanges) })
	counter("buzz_sidecar_reconnects_total", "Stream attempts after the first.", func() float64 { return float64(stream.Reconnects()) })
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
