package telemetry

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// resourceValue returns the string value of key in r, and whether it is set.
func resourceValue(r *resource.Resource, key string) (string, bool) {
	v, ok := r.Set().Value(attribute.Key(key))
	return v.String(), ok
}

func TestResourceServiceNamePrecedence(t *testing.T) {
	cases := []struct {
		name string
		env  func(string) string
		want string
	}{
		{"default", env(), DefaultServiceName},
		{"OTEL_SERVICE_NAME set", env(EnvServiceName, "relay-a"), "relay-a"},
		{"OTEL_SERVICE_NAME empty", env(EnvServiceName, ""), DefaultServiceName},
		{"OTEL_SERVICE_NAME blank", env(EnvServiceName, "   "), DefaultServiceName},
		{"attributes name, OTEL_SERVICE_NAME unset", env(EnvResourceAttributes, "service.name=from-attrs"), "from-attrs"},
		{"attributes name, OTEL_SERVICE_NAME empty", env(EnvResourceAttributes, "service.name=from-attrs", EnvServiceName, ""), "from-attrs"},
		{"attributes name, OTEL_SERVICE_NAME set wins", env(EnvResourceAttributes, "service.name=from-attrs", EnvServiceName, "relay-b"), "relay-b"},
		{"attributes without name", env(EnvResourceAttributes, "team=chat"), DefaultServiceName},
		{"attributes without name, OTEL_SERVICE_NAME set", env(EnvResourceAttributes, "team=chat", EnvServiceName, "relay-c"), "relay-c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := resourceValue(Resource(c.env), "service.name")
			if !ok || got != c.want {
				t.Fatalf("service.name = %q (set %v), want %q", got, ok, c.want)
			}
		})
	}
}

func TestResourceAttributesParsed(t *testing.T) {
	r := Resource(env(EnvResourceAttributes, " deployment.environment = staging ,team=chat%20ops,k8s.pod.name=relay-0%2C1,, "))
	for key, want := range map[string]string{
		"deployment.environment": "staging",
		"team":                   "chat ops",
		"k8s.pod.name":           "relay-0,1",
		"service.name":           DefaultServiceName,
		"telemetry.sdk.language": "go",
		"telemetry.sdk.name":     "opentelemetry",
	} {
		if got, ok := resourceValue(r, key); !ok || got != want {
			t.Errorf("%s = %q (set %v), want %q", key, got, ok, want)
		}
	}
	if _, ok := resourceValue(r, "service.version"); ok {
		t.Error("Resource sets service.version without a version")
	}
	if r.SchemaURL() == "" {
		t.Error("resource has no schema URL")
	}
}

func TestResourceMalformedAttributesDiscardedWithWarning(t *testing.T) {
	for _, raw := range []string{"team=chat,novalue", "team=chat,=x", "team=chat,bad=%zz"} {
		res, warns := buildResource(env(EnvResourceAttributes, raw), "")
		if len(warns) != 1 || !strings.Contains(warns[0], EnvResourceAttributes) {
			t.Errorf("%q: warnings %q", raw, warns)
		}
		if _, ok := resourceValue(res, "team"); ok {
			t.Errorf("%q: kept part of a malformed value", raw)
		}
		if got, _ := resourceValue(res, "service.name"); got != DefaultServiceName {
			t.Errorf("%q: service.name %q", raw, got)
		}
	}
}

func TestBuildResourceVersion(t *testing.T) {
	res, warns := buildResource(env(EnvResourceAttributes, "service.version=env-1"), "")
	if len(warns) != 0 {
		t.Fatalf("warnings %q", warns)
	}
	if got, _ := resourceValue(res, "service.version"); got != "env-1" {
		t.Fatalf("without build version: service.version %q, want env-1", got)
	}
	res, _ = buildResource(env(EnvResourceAttributes, "service.version=env-1"), "2.0.0")
	if got, _ := resourceValue(res, "service.version"); got != "2.0.0" {
		t.Fatalf("with build version: service.version %q, want 2.0.0", got)
	}
}
