package check

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// pod gathers what the checks need from the one Deployment.
type pod struct {
	d                *appsv1.Deployment
	relay, sidecar   *corev1.Container
	relayEnv, carEnv map[string]EnvVar
}

// CheckManifests reports every way the manifests break the deployment's
// invariants: the pod's two containers and their images, environment,
// ports, probes, shutdown timing, resources and security; the scrape
// annotations; the Service, the disruption budget and the kustomization's
// image pins.
func CheckManifests(m *Manifests, e Expect) []error {
	d, err := m.Deployment()
	if err != nil {
		return []error{err}
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	spec := &d.Spec.Template.Spec
	if len(spec.Containers) != 2 {
		fail("pod: want exactly 2 containers (%s, %s), found %d", e.Relay.Container, e.Sidecar.Container, len(spec.Containers))
	}
	if len(spec.InitContainers) > 0 {
		fail("pod: unexpected init containers")
	}
	p := pod{d: d, relay: Container(d, e.Relay.Container), sidecar: Container(d, e.Sidecar.Container)}
	if p.relay == nil || p.sidecar == nil {
		fail("pod: containers must be named %q and %q", e.Relay.Container, e.Sidecar.Container)
		return errs
	}
	var envErrs []error
	p.relayEnv, envErrs = ContainerEnv(m, p.relay)
	errs = append(errs, envErrs...)
	p.carEnv, envErrs = ContainerEnv(m, p.sidecar)
	errs = append(errs, envErrs...)

	errs = append(errs, checkImages(m, p, e)...)
	errs = append(errs, checkVariables(p.relay.Name, p.relayEnv, e.Relay)...)
	errs = append(errs, checkVariables(p.sidecar.Name, p.carEnv, e.Sidecar)...)
	errs = append(errs, checkSecrets(m, p)...)
	errs = append(errs, checkPorts(p)...)
	errs = append(errs, checkProbes(p.relay, e.Relay)...)
	errs = append(errs, checkProbes(p.sidecar, e.Sidecar)...)
	errs = append(errs, checkShutdown(p)...)
	errs = append(errs, checkResources(p.relay)...)
	errs = append(errs, checkResources(p.sidecar)...)
	errs = append(errs, checkSecurity(spec, p.relay)...)
	errs = append(errs, checkSecurity(spec, p.sidecar)...)
	errs = append(errs, checkWritable(p)...)
	errs = append(errs, checkScrape(p)...)
	errs = append(errs, checkSelectors(m, d)...)
	errs = append(errs, checkService(m, p)...)
	return errs
}

func checkImages(m *Manifests, p pod, e Expect) []error {
	var errs []error
	pins := map[string]KustomizeImage{}
	for k, v := range m.Images {
		pins[k] = v
	}
	repos := map[string]string{}
	for _, c := range []struct {
		c    *corev1.Container
		want string
	}{{p.relay, e.Relay.Image}, {p.sidecar, e.Sidecar.Image}} {
		repo, tag := splitImage(c.c.Image)
		if repo != c.want {
			errs = append(errs, fmt.Errorf("container %s: image %q, want repository %q", c.c.Name, c.c.Image, c.want))
		}
		if tag == "" || tag == "latest" {
			errs = append(errs, fmt.Errorf("container %s: image %q needs a pinned tag", c.c.Name, c.c.Image))
		}
		if other, dup := repos[repo]; dup {
			errs = append(errs, fmt.Errorf("containers %s and %s share image %q; each needs its own so they upgrade apart", other, c.c.Name, repo))
		}
		repos[repo] = c.c.Name
		pin, ok := pins[repo]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("kustomization: no images entry for %q", repo))
		case pin.NewName != "":
			errs = append(errs, fmt.Errorf("kustomization: images entry %q renames the image", repo))
		case pin.NewTag != tag:
			errs = append(errs, fmt.Errorf("kustomization: %q pinned to tag %q but the container says %q", repo, pin.NewTag, tag))
		}
		delete(pins, repo)
	}
	for _, name := range sortedKeys(pins) {
		errs = append(errs, fmt.Errorf("kustomization: images entry %q matches no container", name))
	}
	return errs
}

// checkVariables fails on every variable a container gets that its binary
// does not read.
func checkVariables(container string, env map[string]EnvVar, b Binary) []error {
	if len(b.Vars) == 0 {
		return []error{fmt.Errorf("%s: no variable list for binary %s", container, b.Name)}
	}
	var errs []error
	for _, n := range sortedKeys(env) {
		if !b.Vars[n] {
			errs = append(errs, fmt.Errorf("container %s sets %s, which %s does not read", container, n, b.Name))
		}
	}
	return errs
}

func checkSecrets(m *Manifests, p pod) []error {
	var errs []error
	replicas := int32(1)
	if p.d.Spec.Replicas != nil {
		replicas = *p.d.Spec.Replicas
	}
	for _, n := range SecretVars {
		v, ok := p.relayEnv[n]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("container %s: %s is not set (from a Secret)", p.relay.Name, n))
		case v.Secret == nil:
			errs = append(errs, fmt.Errorf("container %s: %s must come from a Secret, not a literal or ConfigMap", p.relay.Name, n))
		case n == VarRedisURL && replicas > 1 && v.Secret.Optional != nil && *v.Secret.Optional:
			errs = append(errs, fmt.Errorf("%d replicas need REDIS_URL for cross-node fan-out; it must not be optional", replicas))
		}
	}
	for _, cm := range m.ConfigMaps {
		for _, n := range SecretVars {
			if _, ok := cm.Data[n]; ok {
				errs = append(errs, fmt.Errorf("ConfigMap %s holds secret %s", cm.Name, n))
			}
		}
	}
	return errs
}

// containerPorts maps a container's port names and numbers to numbers.
func containerPorts(c *corev1.Container) map[string]int32 {
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[strconv.Itoa(int(p.ContainerPort))] = p.ContainerPort
		if p.Name != "" {
			ports[p.Name] = p.ContainerPort
		}
	}
	return ports
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	n, ok := containerPorts(c)[p.String()]
	return n, ok
}

func hasPort(c *corev1.Container, n int) bool {
	for _, p := range c.Ports {
		if int(p.ContainerPort) == n {
			return true
		}
	}
	return false
}

func checkPorts(p pod) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, c := range []*corev1.Container{p.relay, p.sidecar} {
		for _, cp := range c.Ports {
			if cp.Name == "" {
				fail("container %s: port %d has no name", c.Name, cp.ContainerPort)
			}
		}
	}
	want := func(c *corev1.Container, env map[string]EnvVar, name string, fromAddr bool) int {
		v, ok := env[name]
		if !ok || !v.Known {
			fail("container %s: %s must be set explicitly", c.Name, name)
			return 0
		}
		var n int
		var err error
		if fromAddr {
			n, err = addrPort(v.Value)
		} else {
			n, err = strconv.Atoi(v.Value)
		}
		if err != nil {
			fail("container %s: %s=%q: %v", c.Name, name, v.Value, err)
			return 0
		}
		if !hasPort(c, n) {
			fail("container %s: %s=%q but the container declares no port %d", c.Name, name, v.Value, n)
		}
		return n
	}
	want(p.relay, p.relayEnv, VarBindAddr, true)
	want(p.relay, p.relayEnv, VarHealthPort, false)
	metrics := want(p.sidecar, p.carEnv, VarMetricsPort, false)
	if metrics != 0 && hasPort(p.relay, metrics) {
		fail("port %d belongs to the sidecar only; the relay declares it", metrics)
	}
	for _, rp := range p.relay.Ports {
		if hasPort(p.sidecar, int(rp.ContainerPort)) {
			fail("port %d declared by both containers", rp.ContainerPort)
		}
	}
	// The stream: the relay listens where the sidecar dials, inside the pod.
	ra, ok1 := p.relayEnv[VarMetricsGRPC]
	sa, ok2 := p.carEnv[VarRelayMetrics]
	switch {
	case !ok1 || !ok2 || !ra.Known || !sa.Known:
		fail("%s (relay) and %s (sidecar) must both be set", VarMetricsGRPC, VarRelayMetrics)
	case ra.Value != sa.Value:
		fail("relay streams metrics on %s=%q but the sidecar dials %s=%q", VarMetricsGRPC, ra.Value, VarRelayMetrics, sa.Value)
	case !isLoopback(ra.Value):
		fail("%s=%q leaves the pod; use loopback or a unix:// socket", VarMetricsGRPC, ra.Value)
	case strings.HasPrefix(ra.Value, "unix://"):
		sock := strings.TrimPrefix(ra.Value, "unix://")
		if !sharedMount(p, sock) {
			fail("socket %s is not on an emptyDir volume mounted by both containers", sock)
		}
	default:
		if n, err := addrPort(ra.Value); err == nil && (hasPort(p.relay, n) || hasPort(p.sidecar, n)) {
			fail("metrics stream port %d must not be declared as a container port", n)
		}
	}
	return errs
}

func sharedMount(p pod, file string) bool {
	for _, v := range p.d.Spec.Template.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		if mountHolds(p.relay, v.Name, file) && mountHolds(p.sidecar, v.Name, file) {
			return true
		}
	}
	return false
}

// mountHolds says whether file lies under the container's mount of volume.
func mountHolds(c *corev1.Container, volume, file string) bool {
	for _, vm := range c.VolumeMounts {
		if vm.Name == volume && under(file, vm.MountPath) {
			return true
		}
	}
	return false
}

func under(file, dir string) bool {
	file, dir = path.Clean(file), path.Clean(dir)
	return file == dir || strings.HasPrefix(file, strings.TrimSuffix(dir, "/")+"/")
}

func checkProbes(c *corev1.Container, b Binary) []error {
	var errs []error
	for _, pr := range []struct {
		kind    string
		probe   *corev1.Probe
		allowed []string
	}{
		{"liveness", c.LivenessProbe, b.Liveness},
		{"readiness", c.ReadinessProbe, b.Readiness},
		{"startup", c.StartupProbe, b.Liveness},
	} {
		if pr.probe == nil {
			if pr.kind != "startup" {
				errs = append(errs, fmt.Errorf("container %s: no %s probe", c.Name, pr.kind))
			}
			continue
		}
		if pr.probe.HTTPGet == nil {
			errs = append(errs, fmt.Errorf("container %s: %s probe must be httpGet on a health endpoint", c.Name, pr.kind))
			continue
		}
		if !slices.Contains(pr.allowed, pr.probe.HTTPGet.Path) {
			errs = append(errs, fmt.Errorf("container %s: %s probe path %q; %s serves %s checks on %v", c.Name, pr.kind, pr.probe.HTTPGet.Path, b.Name, pr.kind, pr.allowed))
		}
		if _, ok := resolvePort(c, pr.probe.HTTPGet.Port); !ok {
			errs = append(errs, fmt.Errorf("container %s: %s probe port %q is not a port of the container", c.Name, pr.kind, pr.probe.HTTPGet.Port.String()))
		}
	}
	return errs
}

func checkShutdown(p pod) []error {
	var errs []error
	drainV, ok := p.relayEnv[VarDrainDelay]
	drain, err := seconds(drainV, ok, VarDrainDelay)
	if err != nil {
		errs = append(errs, err)
	}
	deadlineV, ok := p.relayEnv[VarShutdown]
	deadline, err := seconds(deadlineV, ok, VarShutdown)
	if err != nil {
		errs = append(errs, err)
	}
	grace := p.d.Spec.Template.Spec.TerminationGracePeriodSeconds
	switch {
	case len(errs) > 0:
	case grace == nil:
		errs = append(errs, fmt.Errorf("terminationGracePeriodSeconds must be set above %s + %s (%d s)", VarDrainDelay, VarShutdown, drain+deadline))
	case *grace <= drain+deadline:
		errs = append(errs, fmt.Errorf("terminationGracePeriodSeconds %d must exceed %s + %s = %d s, or SIGKILL cuts the drain short", *grace, VarDrainDelay, VarShutdown, drain+deadline))
	}
	return errs
}

func checkResources(c *corev1.Container) []error {
	var errs []error
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			errs = append(errs, fmt.Errorf("container %s: %s needs both a request and a limit", c.Name, r))
			continue
		}
		if req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("container %s: %s request %s exceeds limit %s", c.Name, r, req.String(), lim.String()))
		}
	}
	return errs
}

func checkSecurity(spec *corev1.PodSpec, c *corev1.Container) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("container %s: "+format, append([]any{c.Name}, args...)...))
	}
	ps := spec.SecurityContext
	if ps == nil {
		ps = &corev1.PodSecurityContext{}
	}
	cs := c.SecurityContext
	if cs == nil {
		fail("no securityContext")
		return errs
	}
	nonRoot := cs.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = ps.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		fail("runAsNonRoot must be true")
	}
	uid := cs.RunAsUser
	if uid == nil {
		uid = ps.RunAsUser
	}
	if uid == nil || *uid == 0 {
		fail("runAsUser must be a non-zero uid")
	}
	if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		fail("readOnlyRootFilesystem must be true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		fail("allowPrivilegeEscalation must be false")
	}
	if cs.Privileged != nil && *cs.Privileged {
		fail("must not be privileged")
	}
	if cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") || len(cs.Capabilities.Add) > 0 {
		fail("capabilities must drop ALL and add none")
	}
	return errs
}

// checkWritable: with a read-only root filesystem the relay's data dir must
// be a mounted volume.
func checkWritable(p pod) []error {
	v, ok := p.relayEnv[VarDataDir]
	if !ok || !v.Known {
		return []error{fmt.Errorf("container %s: %s must be set to a mounted volume (the root filesystem is read-only)", p.relay.Name, VarDataDir)}
	}
	for _, vm := range p.relay.VolumeMounts {
		if !vm.ReadOnly && under(v.Value, vm.MountPath) {
			return nil
		}
	}
	return []error{fmt.Errorf("container %s: %s=%q is on the read-only root filesystem; mount a volume there", p.relay.Name, VarDataDir, v.Value)}
}
