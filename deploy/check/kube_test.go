package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestManifestsDecodeStrictly(t *testing.T) {
	base := loadManifests(t, baseDir)
	if len(base.Deployments) != 1 || len(base.Services) != 1 || len(base.ConfigMaps) != 2 || len(base.Budgets) != 1 {
		t.Errorf("base: %d deployments, %d services, %d configmaps, %d budgets; want 1, 1, 2, 1",
			len(base.Deployments), len(base.Services), len(base.ConfigMaps), len(base.Budgets))
	}
	overlay := loadManifests(t, tracingDir)
	if len(overlay.ConfigMaps) != len(base.ConfigMaps)+1 {
		t.Errorf("tracing overlay: %d ConfigMaps, want the base's %d plus one", len(overlay.ConfigMaps), len(base.ConfigMaps))
	}
}

const minimalConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  A: b\n"

func TestDecodeObjectsIsStrict(t *testing.T) {
	if _, err := DecodeObjects([]byte(minimalConfigMap)); err != nil {
		t.Fatalf("a valid ConfigMap: %v", err)
	}
	deploy, err := os.ReadFile(filepath.Join(baseDir, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"unknown field":   strings.Replace(string(deploy), "imagePullPolicy: IfNotPresent", "imagePullPolicy: IfNotPresent\n          imagePulPolicy: Always", 1),
		"wrong case":      strings.Replace(string(deploy), "readOnlyRootFilesystem: true", "ReadOnlyRootFilesystem: true", 1),
		"duplicate key":   minimalConfigMap + "data:\n  C: d\n",
		"unsupported":     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
		"wrong type":      strings.Replace(string(deploy), "replicas: 2", "replicas: two", 1),
		"no documents":    "# nothing\n",
		"bad second doc":  minimalConfigMap + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  nmae: z\n",
		"misplaced field": strings.Replace(minimalConfigMap, "  name: x", "  name: x\n  data: {}", 1),
	} {
		if doc == string(deploy) {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if _, err := DecodeObjects([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestKustomizationResourcesAreComplete(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"kustomization.yaml", "configmap.yaml", "deployment.yaml", "service.yaml", "pdb.yaml"} {
		data, err := os.ReadFile(filepath.Join(baseDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadManifests(dir); err != nil {
		t.Fatalf("copy of the base: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "forgotten.yaml"), []byte(minimalConfigMap), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManifests(dir); err == nil || !strings.Contains(err.Error(), "not listed") {
		t.Errorf("an unlisted manifest: %v", err)
	}
	os.Remove(filepath.Join(dir, "forgotten.yaml"))
	os.Remove(filepath.Join(dir, "pdb.yaml"))
	if _, err := LoadManifests(dir); err == nil {
		t.Error("a listed resource that is missing loaded without error")
	}
}

func TestManifestInvariantsHold(t *testing.T) {
	e := fixtureExpect(t)
	noErrors(t, "base", CheckManifests(loadManifests(t, baseDir), e))
	noErrors(t, "tracing overlay", CheckManifests(loadManifests(t, tracingDir), e))
	noErrors(t, "base tracing", CheckTracingOff(loadManifests(t, baseDir), e))
	noErrors(t, "overlay tracing", CheckTracingOn(loadManifests(t, tracingDir), e))
	if errs := CheckTracingOn(loadManifests(t, baseDir), e); len(errs) == 0 {
		t.Error("CheckTracingOn passed the base, which must not trace")
	}
	if errs := CheckTracingOff(loadManifests(t, tracingDir), e); len(errs) == 0 {
		t.Error("CheckTracingOff passed the overlay, which traces")
	}
}

// mutation edits a fresh copy of the base; the checks must then report a
// problem containing every fragment.
type mutation struct {
	name  string
	edit  func(t *testing.T, m *Manifests)
	check func(*Manifests, Expect) []error
	want  []string
}

func relayC(t *testing.T, m *Manifests) *corev1.Container {
	t.Helper()
	return Container(m.Deployments[0], "relay")
}

func sidecarC(t *testing.T, m *Manifests) *corev1.Container {
	t.Helper()
	return Container(m.Deployments[0], "statsd-sidecar")
}

func setEnv(c *corev1.Container, name string, v corev1.EnvVar) {
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i] = v
			return
		}
	}
	c.Env = append(c.Env, v)
}

func TestManifestChecksCatchMistakes(t *testing.T) {
	e := fixtureExpect(t)
	ddKey := "ad.datadoghq.com/statsd-sidecar.checks"
	for _, mu := range []mutation{
		{name: "grace period too short", want: []string{"terminationGracePeriodSeconds 35"},
			edit: func(t *testing.T, m *Manifests) {
				g := int64(35)
				m.Deployments[0].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
			}},
		{name: "drain deadline raised", want: []string{"must exceed", "= 50 s"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-relay").Data[VarShutdown] = "45" }},
		{name: "deadline unset", want: []string{VarShutdown + " must be set"},
			edit: func(t *testing.T, m *Manifests) { delete(m.ConfigMap("buzz-relay").Data, VarShutdown) }},
		{name: "same image", want: []string{"share image"},
			edit: func(t *testing.T, m *Manifests) { sidecarC(t, m).Image = relayC(t, m).Image }},
		{name: "unpinned tag", want: []string{"pinned tag"},
			edit: func(t *testing.T, m *Manifests) { sidecarC(t, m).Image = "ghcr.io/buzzrelay/statsd-sidecar:latest" }},
		{name: "kustomization pin drifts", want: []string{"pinned to tag"},
			edit: func(t *testing.T, m *Manifests) {
				pin := m.Images["ghcr.io/buzzrelay/statsd-sidecar"]
				pin.NewTag = "0.2.0"
				m.Images[pin.Name] = pin
			}},
		{name: "kustomization pin for no container", want: []string{"matches no container"},
			edit: func(t *testing.T, m *Manifests) {
				m.Images["ghcr.io/buzzrelay/other"] = KustomizeImage{Name: "ghcr.io/buzzrelay/other", NewTag: "1"}
			}},
		{name: "unknown relay variable", want: []string{"relay sets BUZZ_TYPO"},
			edit: func(t *testing.T, m *Manifests) {
				setEnv(relayC(t, m), "BUZZ_TYPO", corev1.EnvVar{Name: "BUZZ_TYPO", Value: "1"})
			}},
		{name: "sidecar variable in the relay's ConfigMap", want: []string{"relay sets BUZZ_METRICS_PORT"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-relay").Data[VarMetricsPort] = "9102" }},
		{name: "relay variable given to the sidecar", want: []string{"statsd-sidecar sets BUZZ_LOG_LEVEL"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-statsd-sidecar").Data["BUZZ_LOG_LEVEL"] = "info" }},
		{name: "missing required ConfigMap", want: []string{"is not defined"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-statsd-sidecar").Name = "renamed" }},
		{name: "whole Secret poured in", want: []string{"envFrom Secret"},
			edit: func(t *testing.T, m *Manifests) {
				c := relayC(t, m)
				c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}})
			}},
		{name: "database URL as a literal", want: []string{"DATABASE_URL must come from a Secret"},
			edit: func(t *testing.T, m *Manifests) {
				setEnv(relayC(t, m), VarDatabaseURL, corev1.EnvVar{Name: VarDatabaseURL, Value: "postgres://x/y"})
			}},
		{name: "secret in a ConfigMap", want: []string{"holds secret BUZZ_RELAY_PRIVATE_KEY"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-relay").Data[VarRelayKey] = "00" }},
		{name: "optional Redis with two replicas", want: []string{"need REDIS_URL"},
			edit: func(t *testing.T, m *Manifests) {
				o := true
				for i := range relayC(t, m).Env {
					if e := &relayC(t, m).Env[i]; e.Name == VarRedisURL {
						e.ValueFrom.SecretKeyRef.Optional = &o
					}
				}
			}},
		{name: "readiness on a path the relay does not serve", want: []string{"readiness probe path \"/ready\""},
			edit: func(t *testing.T, m *Manifests) { relayC(t, m).ReadinessProbe.HTTPGet.Path = "/ready" }},
		{name: "probe on an undeclared port", want: []string{"liveness probe port \"metricz\""},
			edit: func(t *testing.T, m *Manifests) {
				sidecarC(t, m).LivenessProbe.HTTPGet.Port = intstr.FromString("metricz")
			}},
		{name: "no liveness probe", want: []string{"no liveness probe"},
			edit: func(t *testing.T, m *Manifests) { sidecarC(t, m).LivenessProbe = nil }},
		{name: "relay liveness on readiness", want: []string{"liveness probe path \"/_readiness\""},
			edit: func(t *testing.T, m *Manifests) { relayC(t, m).LivenessProbe.HTTPGet.Path = "/_readiness" }},
		{name: "sidecar readiness gated on the stream", want: []string{"readiness probe path \"/readyz\""},
			edit: func(t *testing.T, m *Manifests) { sidecarC(t, m).ReadinessProbe.HTTPGet.Path = "/readyz" }},
		{name: "relay declares 9102", want: []string{"sidecar only"},
			edit: func(t *testing.T, m *Manifests) {
				c := relayC(t, m)
				c.Ports = append(c.Ports, corev1.ContainerPort{Name: "m", ContainerPort: 9102})
			}},
		{name: "unnamed port", want: []string{"has no name"},
			edit: func(t *testing.T, m *Manifests) { sidecarC(t, m).Ports[0].Name = "" }},
		{name: "bind port not declared", want: []string{"declares no port 4000"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-relay").Data[VarBindAddr] = "0.0.0.0:4000" }},
		{name: "stream port exposed", want: []string{"must not be declared"},
			edit: func(t *testing.T, m *Manifests) {
				c := relayC(t, m)
				c.Ports = append(c.Ports, corev1.ContainerPort{Name: "grpc", ContainerPort: 9103})
			}},
		{name: "sidecar dials elsewhere", want: []string{"sidecar dials"},
			edit: func(t *testing.T, m *Manifests) {
				m.ConfigMap("buzz-statsd-sidecar").Data[VarRelayMetrics] = "127.0.0.1:9999"
			}},
		{name: "stream leaves the pod", want: []string{"leaves the pod"},
			edit: func(t *testing.T, m *Manifests) {
				m.ConfigMap("buzz-relay").Data[VarMetricsGRPC] = "0.0.0.0:9103"
				m.ConfigMap("buzz-statsd-sidecar").Data[VarRelayMetrics] = "0.0.0.0:9103"
			}},
		{name: "unix socket not shared", want: []string{"not on an emptyDir"},
			edit: func(t *testing.T, m *Manifests) {
				m.ConfigMap("buzz-relay").Data[VarMetricsGRPC] = "unix:///run/buzz/metrics.sock"
				m.ConfigMap("buzz-statsd-sidecar").Data[VarRelayMetrics] = "unix:///run/buzz/metrics.sock"
			}},
		{name: "root filesystem writable", want: []string{"readOnlyRootFilesystem"},
			edit: func(t *testing.T, m *Manifests) {
				f := false
				sidecarC(t, m).SecurityContext.ReadOnlyRootFilesystem = &f
			}},
		{name: "runs as root", want: []string{"non-zero uid"},
			edit: func(t *testing.T, m *Manifests) { u := int64(0); relayC(t, m).SecurityContext.RunAsUser = &u }},
		{name: "privilege escalation", want: []string{"allowPrivilegeEscalation"},
			edit: func(t *testing.T, m *Manifests) { relayC(t, m).SecurityContext.AllowPrivilegeEscalation = nil }},
		{name: "capabilities kept", want: []string{"drop ALL"},
			edit: func(t *testing.T, m *Manifests) { sidecarC(t, m).SecurityContext.Capabilities.Drop = nil }},
		{name: "no memory limit", want: []string{"memory needs both"},
			edit: func(t *testing.T, m *Manifests) { delete(sidecarC(t, m).Resources.Limits, corev1.ResourceMemory) }},
		{name: "request above limit", want: []string{"exceeds limit"},
			edit: func(t *testing.T, m *Manifests) {
				relayC(t, m).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("4")
			}},
		{name: "data dir on the root filesystem", want: []string{"read-only root"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-relay").Data[VarDataDir] = "/data" }},
		{name: "annotation on the relay", want: []string{"ad.datadoghq.com/relay.checks names a container"},
			edit: func(t *testing.T, m *Manifests) {
				a := m.Deployments[0].Spec.Template.Annotations
				a["ad.datadoghq.com/relay.checks"] = a[ddKey]
				delete(a, ddKey)
			}},
		{name: "annotation not JSON", want: []string{"not the OpenMetrics check JSON"},
			edit: func(t *testing.T, m *Manifests) {
				m.Deployments[0].Spec.Template.Annotations[ddKey] = "openmetrics: {}"
			}},
		{name: "annotation unknown key", want: []string{"not the OpenMetrics check JSON"},
			edit: func(t *testing.T, m *Manifests) {
				a := m.Deployments[0].Spec.Template.Annotations
				a[ddKey] = strings.Replace(a[ddKey], `"namespace"`, `"name_space"`, 1)
			}},
		{name: "annotation endpoint on the stream port", want: []string{"openmetrics_endpoint", "9103"},
			edit: func(t *testing.T, m *Manifests) {
				a := m.Deployments[0].Spec.Template.Annotations
				a[ddKey] = strings.Replace(a[ddKey], "9102", "9103", 1)
			}},
		{name: "annotation metrics filtered", want: []string{"metrics = "},
			edit: func(t *testing.T, m *Manifests) {
				a := m.Deployments[0].Spec.Template.Annotations
				a[ddKey] = strings.Replace(a[ddKey], `".*"`, `"buzz_.*"`, 1)
			}},
		{name: "prometheus port", want: []string{"prometheus.io/port"},
			edit: func(t *testing.T, m *Manifests) {
				m.Deployments[0].Spec.Template.Annotations["prometheus.io/port"] = "3000"
			}},
		{name: "service exposes health", want: []string{"only the WebSocket port"},
			edit: func(t *testing.T, m *Manifests) { m.Services[0].Spec.Ports[0].TargetPort = intstr.FromString("health") }},
		{name: "service targets the sidecar", want: []string{"not a relay container port"},
			edit: func(t *testing.T, m *Manifests) {
				m.Services[0].Spec.Ports[0].TargetPort = intstr.FromString("metrics")
			}},
		{name: "service selects nothing", want: []string{"service buzz-relay: selector"},
			edit: func(t *testing.T, m *Manifests) { m.Services[0].Spec.Selector = map[string]string{"app": "other"} }},
		{name: "budget selects nothing", want: []string{"PodDisruptionBudget"},
			edit: func(t *testing.T, m *Manifests) {
				m.Budgets[0].Spec.Selector.MatchLabels = map[string]string{"app": "other"}
			}},
		{name: "tracing on by default", check: CheckTracingOff, want: []string{"tracing must be opt-in"},
			edit: func(t *testing.T, m *Manifests) { m.ConfigMap("buzz-relay").Data[VarOTLPEndpoint] = "http://x:4317" }},
		{name: "third container", want: []string{"exactly 2 containers"},
			edit: func(t *testing.T, m *Manifests) {
				s := &m.Deployments[0].Spec.Template.Spec
				s.Containers = append(s.Containers, corev1.Container{Name: "extra"})
			}},
	} {
		t.Run(mu.name, func(t *testing.T) {
			m := loadManifests(t, baseDir)
			mu.edit(t, m)
			check := mu.check
			if check == nil {
				check = CheckManifests
			}
			wantError(t, check(m, e), mu.want...)
		})
	}
}

// A Unix socket on an emptyDir that both containers mount is an accepted
// alternative to loopback.
func TestSharedSocketIsAccepted(t *testing.T) {
	m := loadManifests(t, baseDir)
	sock := "unix:///run/buzz/metrics.sock"
	m.ConfigMap("buzz-relay").Data[VarMetricsGRPC] = sock
	m.ConfigMap("buzz-statsd-sidecar").Data[VarRelayMetrics] = sock
	spec := &m.Deployments[0].Spec.Template.Spec
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "sock", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	for _, c := range []*corev1.Container{relayC(t, m), sidecarC(t, m)} {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "sock", MountPath: "/run/buzz"})
	}
	noErrors(t, "shared socket", CheckManifests(m, fixtureExpect(t)))
}
