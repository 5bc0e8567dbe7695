package check

import (
	"fmt"
	"net/url"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func checkSelectors(m *Manifests, d *appsv1.Deployment) []error {
	var errs []error
	podLabels := labels.Set(d.Spec.Template.Labels)
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 ||
		!labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(podLabels) {
		errs = append(errs, fmt.Errorf("deployment %s: selector does not match its pod labels", d.Name))
	}
	for _, b := range m.Budgets {
		if b.Spec.Selector == nil || !labels.SelectorFromSet(b.Spec.Selector.MatchLabels).Matches(podLabels) {
			errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: selector does not match the pods", b.Name))
		}
	}
	return errs
}

func checkService(m *Manifests, p pod) []error {
	if len(m.Services) == 0 {
		return []error{fmt.Errorf("no Service for the WebSocket port")}
	}
	var errs []error
	podLabels := labels.Set(p.d.Spec.Template.Labels)
	ws := 0
	if v, ok := p.relayEnv[VarBindAddr]; ok {
		ws, _ = addrPort(v.Value)
	}
	for _, s := range m.Services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			errs = append(errs, fmt.Errorf("service %s: selector does not match the pods", s.Name))
		}
		for _, sp := range s.Spec.Ports {
			target := sp.TargetPort
			if target.String() == "0" || target.String() == "" {
				target = intstr.FromInt32(sp.Port)
			}
			n, ok := resolvePort(p.relay, target)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("service %s: port %s targets %q, not a relay container port", s.Name, sp.Name, target.String()))
			case int(n) != ws:
				errs = append(errs, fmt.Errorf("service %s: port %s targets %d; only the WebSocket port %d belongs on the Service", s.Name, sp.Name, n, ws))
			}
		}
	}
	return errs
}

// relayEnv returns the relay container and the environment the manifests
// give it.
func relayEnv(m *Manifests, e Expect) (*corev1.Container, map[string]EnvVar, []error) {
	d, err := m.Deployment()
	if err != nil {
		return nil, nil, []error{err}
	}
	c := Container(d, e.Relay.Container)
	if c == nil {
		return nil, nil, []error{fmt.Errorf("no %s container", e.Relay.Container)}
	}
	env, errs := ContainerEnv(m, c)
	return c, env, errs
}

// CheckTracingOff proves OTLP export is off by default: nothing the
// manifests define sets OTEL_EXPORTER_OTLP_ENDPOINT for the relay.
func CheckTracingOff(m *Manifests, e Expect) []error {
	c, env, errs := relayEnv(m, e)
	if c == nil {
		return errs
	}
	if v, ok := env[VarOTLPEndpoint]; ok {
		errs = append(errs, fmt.Errorf("%s is set by default (%q from %s); tracing must be opt-in", VarOTLPEndpoint, v.Value, orLiteral(v.ConfigMap)))
	}
	return errs
}

// CheckTracingOn proves an overlay turns OTLP export on with a usable
// endpoint, through configuration only.
func CheckTracingOn(m *Manifests, e Expect) []error {
	c, env, errs := relayEnv(m, e)
	if c == nil {
		return errs
	}
	errs = append(errs, checkVariables(c.Name, env, e.Relay)...)
	v, ok := env[VarOTLPEndpoint]
	if !ok || !v.Known || v.ConfigMap == "" {
		return append(errs, fmt.Errorf("%s is not set from a ConfigMap", VarOTLPEndpoint))
	}
	u, err := url.Parse(v.Value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
		errs = append(errs, fmt.Errorf("%s=%q must be an http(s) URL with a port", VarOTLPEndpoint, v.Value))
	}
	return errs
}

func orLiteral(cm string) string {
	if cm == "" {
		return "a literal"
	}
	return "ConfigMap " + cm
}
