package check

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// DatadogChecks is the Autodiscovery v2 annotation value for the OpenMetrics
// check.
type DatadogChecks struct {
	OpenMetrics struct {
		InitConfig map[string]any    `json:"init_config"`
		Instances  []DatadogInstance `json:"instances"`
	} `json:"openmetrics"`
}

// DatadogInstance is one OpenMetrics (V2) check instance.
type DatadogInstance struct {
	OpenMetricsEndpoint string   `json:"openmetrics_endpoint"`
	Namespace           string   `json:"namespace"`
	Metrics             []string `json:"metrics"`
}

func checkScrape(p pod) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	ann := p.d.Spec.Template.Annotations
	metricsPort := 0
	if v, ok := p.carEnv[VarMetricsPort]; ok {
		metricsPort, _ = strconv.Atoi(v.Value)
	}
	want := "ad.datadoghq.com/" + p.sidecar.Name + ".checks"
	for k := range ann {
		if strings.HasPrefix(k, "ad.datadoghq.com/") && strings.HasSuffix(k, ".checks") && k != want {
			fail("annotation %s names a container other than %s", k, p.sidecar.Name)
		}
	}
	raw, ok := ann[want]
	if !ok {
		fail("pod template: no %s annotation", want)
	} else {
		var dd DatadogChecks
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&dd); err != nil {
			fail("%s: not the OpenMetrics check JSON: %v", want, err)
		} else if len(dd.OpenMetrics.Instances) != 1 {
			fail("%s: want one OpenMetrics instance, found %d", want, len(dd.OpenMetrics.Instances))
		} else {
			in := dd.OpenMetrics.Instances[0]
			u, err := url.Parse(strings.Replace(in.OpenMetricsEndpoint, datadogHostToken, "pod-ip", 1))
			switch {
			case err != nil || !strings.Contains(in.OpenMetricsEndpoint, "://"+datadogHostToken+":"):
				fail("%s: openmetrics_endpoint %q must be http://%s:<port>/metrics", want, in.OpenMetricsEndpoint, datadogHostToken)
			case u.Scheme != "http" || u.Path != metricsPath || u.Port() != strconv.Itoa(metricsPort):
				fail("%s: openmetrics_endpoint %q, want http://%s:%d%s", want, in.OpenMetricsEndpoint, datadogHostToken, metricsPort, metricsPath)
			}
			if !hasPort(p.sidecar, metricsPort) {
				fail("%s: the sidecar does not declare port %d", want, metricsPort)
			}
			if in.Namespace == "" {
				fail("%s: namespace is empty", want)
			}
			if !slices.Equal(in.Metrics, []string{".*"}) {
				fail("%s: metrics = %q, want [\".*\"]", want, in.Metrics)
			}
		}
	}
	if ann["prometheus.io/scrape"] != "true" {
		fail("prometheus.io/scrape must be \"true\"")
	}
	if ann["prometheus.io/port"] != strconv.Itoa(metricsPort) {
		fail("prometheus.io/port = %q, want the sidecar's %d", ann["prometheus.io/port"], metricsPort)
	}
	if ann["prometheus.io/path"] != metricsPath {
		fail("prometheus.io/path = %q, want %s", ann["prometheus.io/path"], metricsPath)
	}
	return errs
}
