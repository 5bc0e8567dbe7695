package telemetry

import "testing"

func TestParseEndpointAccepted(t *testing.T) {
	cases := []struct {
		raw, hostport string
		insecure      bool
		warn          bool
	}{
		{"http://collector:4317", "collector:4317", true, false},
		{"HTTP://collector:4317/", "collector:4317", true, false},
		{"http://collector", "collector:4317", true, false},
		{"collector:4318", "collector:4318", true, false},
		{"collector", "collector:4317", true, false},
		{"[::1]:4317", "[::1]:4317", true, false},
		{"https://otlp.example.com", "otlp.example.com:443", false, false},
		{"https://otlp.example.com:4317", "otlp.example.com:4317", false, false},
		{"http://datadog-agent.datadog-agent.svc.cluster.local:4317", "datadog-agent.datadog-agent.svc.cluster.local:4317", true, false},
		{"http://collector:4317/v1/traces", "collector:4317", true, true},
		{"http://collector:4317?x=1", "collector:4317", true, true},
	}
	for _, c := range cases {
		ep, warn, err := parseEndpoint(c.raw)
		if err != nil {
			t.Errorf("%q: %v", c.raw, err)
			continue
		}
		if ep.hostport != c.hostport || ep.insecure != c.insecure {
			t.Errorf("%q: got %+v, want %s insecure=%v", c.raw, ep, c.hostport, c.insecure)
		}
		if (warn != "") != c.warn {
			t.Errorf("%q: warning %q, want warning=%v", c.raw, warn, c.warn)
		}
	}
}

func TestStartTLSEndpointEnabledWithoutDialling(t *testing.T) {
	// The exporter connects lazily: a TLS endpoint nobody serves still starts.
	tr := Start(t.Context(), env(EnvEndpoint, "https://otlp.invalid"), "v")
	defer func() { _ = tr.Shutdown(t.Context()) }()
	if tr.Outcome != Enabled || tr.Insecure || tr.Endpoint != "otlp.invalid:443" {
		t.Fatalf("outcome %v insecure %v endpoint %q err %v", tr.Outcome, tr.Insecure, tr.Endpoint, tr.Err)
	}
}
