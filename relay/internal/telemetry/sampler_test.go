package telemetry

import (
	"strings"
	"testing"
)

func TestSamplerFromEnv(t *testing.T) {
	cases := []struct {
		sampler, arg string
		want         string // Description prefix
		warn         string // substring of the single warning, "" for none
	}{
		{"", "", "ParentBased{root:AlwaysOnSampler", ""},
		{"parentbased_always_on", "", "ParentBased{root:AlwaysOnSampler", ""},
		{" Always_On ", "", "AlwaysOnSampler", ""},
		{"always_off", "", "AlwaysOffSampler", ""},
		{"parentbased_always_off", "", "ParentBased{root:AlwaysOffSampler", ""},
		{"traceidratio", "0.25", "TraceIDRatioBased{0.25}", ""},
		{"traceidratio", "", "TraceIDRatioBased{1}", ""},
		{"parentbased_traceidratio", "0.5", "ParentBased{root:TraceIDRatioBased{0.5}", ""},
		{"traceidratio", "lots", "TraceIDRatioBased{1}", "lots"},
		{"traceidratio", "1.5", "TraceIDRatioBased{1}", "1.5"},
		{"parentbased_traceidratio", "-0.1", "ParentBased{root:TraceIDRatioBased{1}", "-0.1"},
		{"traceidratio", "NaN", "TraceIDRatioBased{1}", "NaN"},
		{"jaeger_remote", "", "ParentBased{root:AlwaysOnSampler", "jaeger_remote"},
		{"sometimes", "0.1", "ParentBased{root:AlwaysOnSampler", "sometimes"},
	}
	for _, c := range cases {
		s, warns := samplerFromEnv(env(EnvSampler, c.sampler, EnvSamplerArg, c.arg))
		if !strings.HasPrefix(s.Description(), c.want) {
			t.Errorf("%q/%q: sampler %q, want prefix %q", c.sampler, c.arg, s.Description(), c.want)
		}
		switch {
		case c.warn == "" && len(warns) != 0:
			t.Errorf("%q/%q: unexpected warnings %q", c.sampler, c.arg, warns)
		case c.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0], c.warn)):
			t.Errorf("%q/%q: warnings %q, want one mentioning %q", c.sampler, c.arg, warns, c.warn)
		}
	}
}
