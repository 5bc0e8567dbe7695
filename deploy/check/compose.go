package check

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Compose is the part of the Compose specification the local stack uses.
// Decoding is strict: a key outside these structs is an error.
type Compose struct {
	Name     string               `json:"name"`
	Services map[string]*Service  `json:"services"`
	Volumes  map[string]*struct{} `json:"volumes,omitempty"`
}

// Service is one compose service.
type Service struct {
	Image           string                `json:"image"`
	Build           *ComposeBuild         `json:"build,omitempty"`
	Command         []string              `json:"command,omitempty"`
	Environment     map[string]string     `json:"environment,omitempty"`
	Ports           []string              `json:"ports,omitempty"`
	Volumes         []string              `json:"volumes,omitempty"`
	Tmpfs           []string              `json:"tmpfs,omitempty"`
	NetworkMode     string                `json:"network_mode,omitempty"`
	ReadOnly        bool                  `json:"read_only,omitempty"`
	StopGracePeriod string                `json:"stop_grace_period,omitempty"`
	DependsOn       map[string]Dependency `json:"depends_on,omitempty"`
	Healthcheck     *Healthcheck          `json:"healthcheck,omitempty"`
}

// ComposeBuild says how compose builds a service's image.
type ComposeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

// Dependency is a depends_on entry in long form.
type Dependency struct {
	Condition string `json:"condition"`
}

// Healthcheck is a service's health command.
type Healthcheck struct {
	Test     []string `json:"test"`
	Interval string   `json:"interval,omitempty"`
	Timeout  string   `json:"timeout,omitempty"`
	Retries  int      `json:"retries,omitempty"`
}

// PortMapping is one "[ip:]host:container" entry.
type PortMapping struct {
	HostIP    string
	Host      int
	Container int
}

// LoadCompose decodes a compose file strictly.
func LoadCompose(path string) (*Compose, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Compose
	if err := decodeStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// ParsePort reads a short-syntax port entry.
func ParsePort(s string) (PortMapping, error) {
	s = strings.TrimSuffix(s, "/tcp")
	parts := strings.Split(s, ":")
	var pm PortMapping
	var err error
	switch len(parts) {
	case 2:
	case 3:
		pm.HostIP = parts[0]
		parts = parts[1:]
	default:
		return pm, fmt.Errorf("port %q: want [ip:]host:container", s)
	}
	if pm.Host, err = strconv.Atoi(parts[0]); err != nil {
		return pm, fmt.Errorf("port %q: %w", s, err)
	}
	if pm.Container, err = strconv.Atoi(parts[1]); err != nil {
		return pm, fmt.Errorf("port %q: %w", s, err)
	}
	return pm, nil
}

// CheckCompose holds the local stack to the manifests and the binaries:
// same image repositories, the same ports and listening addresses, only
// variables the binaries read, each sidecar in its relay's network
// namespace, shared PostgreSQL and Redis, and an OTLP backend that is
// really there.
func CheckCompose(c *Compose, m *Manifests, e Expect, root string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	d, err := m.Deployment()
	if err != nil {
		return []error{err}
	}
	kRelay, kCar := Container(d, e.Relay.Container), Container(d, e.Sidecar.Container)
	if kRelay == nil || kCar == nil {
		return []error{fmt.Errorf("manifests lack the %s/%s containers", e.Relay.Container, e.Sidecar.Container)}
	}
	kRelayEnv, _ := ContainerEnv(m, kRelay)
	kCarEnv, _ := ContainerEnv(m, kCar)
	relayRepo, _ := splitImage(kRelay.Image)
	carRepo, _ := splitImage(kCar.Image)

	var relays, cars []string
	hostPorts := map[string]string{}
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		repo, _ := splitImage(s.Image)
		switch repo {
		case relayRepo:
			relays = append(relays, name)
			errs = append(errs, checkComposeBuild(name, s, e.Relay.Name, root)...)
			errs = append(errs, checkVariables(name, composeEnv(s), e.Relay)...)
		case carRepo:
			cars = append(cars, name)
			errs = append(errs, checkComposeBuild(name, s, e.Sidecar.Name, root)...)
			errs = append(errs, checkVariables(name, composeEnv(s), e.Sidecar)...)
		default:
			if s.Build != nil {
				fail("service %s builds an image that is neither %s nor %s", name, relayRepo, carRepo)
			}
		}
		for _, p := range s.Ports {
			pm, err := ParsePort(p)
			if err != nil {
				fail("service %s: %v", name, err)
				continue
			}
			key := pm.HostIP + ":" + strconv.Itoa(pm.Host)
			if other, dup := hostPorts[key]; dup {
				fail("host port %s published by %s and %s", key, other, name)
			}
			hostPorts[key] = name
		}
		for dep := range s.DependsOn {
			if c.Services[dep] == nil {
				fail("service %s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := c.Volumes[src]; !ok {
					fail("service %s mounts undeclared volume %s", name, src)
				}
			}
		}
	}
	if len(relays) != 2 || len(cars) != 2 {
		fail("want two relay nodes and two sidecars, found %d (%v) and %d (%v)", len(relays), relays, len(cars), cars)
	}

	// Each sidecar lives in one relay's network namespace, like a pod.
	paired := map[string]string{}
	for _, name := range cars {
		s := c.Services[name]
		relay, ok := strings.CutPrefix(s.NetworkMode, "service:")
		if !ok || c.Services[relay] == nil || !slices.Contains(relays, relay) {
			fail("sidecar %s: network_mode %q must be service:<a relay node>", name, s.NetworkMode)
			continue
		}
		if other, dup := paired[relay]; dup {
			fail("relay %s has two sidecars (%s, %s)", relay, other, name)
		}
		paired[relay] = name
		if !s.ReadOnly {
			fail("sidecar %s: read_only must be true, as in the pod", name)
		}
		if len(s.Ports) > 0 {
			fail("sidecar %s: publish its ports on %s, whose network namespace it shares", name, relay)
		}
		errs = append(errs, sameAs(name, s.Environment, kCarEnv, VarMetricsPort, VarRelayMetrics)...)
		ra, sa := c.Services[relay].Environment[VarMetricsGRPC], s.Environment[VarRelayMetrics]
		if ra != sa || !isLoopback(ra) {
			fail("sidecar %s dials %q but %s streams on %q (must match, on loopback)", name, sa, relay, ra)
		}
	}

	// The relay nodes: same listeners as the pod, shared stores, tracing.
	want := map[int]bool{}
	for _, cp := range append(portsOf(kRelay), portsOf(kCar)...) {
		want[cp] = true
	}
	var dbURL, redisURL string
	for i, name := range relays {
		s := c.Services[name]
		env := s.Environment
		if paired[name] == "" {
			fail("relay %s has no sidecar", name)
		}
		if !s.ReadOnly {
			fail("relay %s: read_only must be true, as in the pod", name)
		}
		errs = append(errs, sameAs(name, env, kRelayEnv, VarBindAddr, VarHealthPort, VarMetricsGRPC)...)
		if !slices.Equal(s.Command, kRelay.Args) {
			fail("relay %s runs %q, but the pod runs %q", name, s.Command, kRelay.Args)
		}
		published := map[int]int{}
		for _, p := range s.Ports {
			if pm, err := ParsePort(p); err == nil {
				published[pm.Container] = pm.Host
				if !want[pm.Container] {
					fail("relay %s publishes container port %d, which the pod does not declare", name, pm.Container)
				}
			}
		}
		for _, p := range sortedInts(want) {
			if _, ok := published[p]; !ok {
				fail("relay %s does not publish container port %d (the pod declares it)", name, p)
			}
		}
		if ws, err := addrPort(env[VarBindAddr]); err == nil {
			if u, err := url.Parse(env["RELAY_URL"]); err != nil || u.Port() != strconv.Itoa(published[ws]) {
				fail("relay %s: RELAY_URL %q does not name its published WebSocket port %d", name, env["RELAY_URL"], published[ws])
			}
		}
		if !underAny(env[VarDataDir], s.Tmpfs, s.Volumes) {
			fail("relay %s: %s=%q is not on a tmpfs or volume (read-only root)", name, VarDataDir, env[VarDataDir])
		}
		errs = append(errs, checkStoreURL(c, name, VarDatabaseURL, env[VarDatabaseURL], 5432)...)
		errs = append(errs, checkStoreURL(c, name, VarRedisURL, env[VarRedisURL], 6379)...)
		if i == 0 {
			dbURL, redisURL = env[VarDatabaseURL], env[VarRedisURL]
		} else if env[VarDatabaseURL] != dbURL || env[VarRedisURL] != redisURL {
			fail("relay %s does not share %s and %s with %s", name, VarDatabaseURL, VarRedisURL, relays[0])
		}
		errs = append(errs, checkComposeOTLP(c, name, env[VarOTLPEndpoint])...)
		errs = append(errs, checkComposeGrace(name, s)...)
	}
	return errs
}

func portsOf(c *corev1.Container) []int {
	var out []int
	for _, p := range c.Ports {
		out = append(out, int(p.ContainerPort))
	}
	return out
}

func composeEnv(s *Service) map[string]EnvVar {
	env := map[string]EnvVar{}
	for k, v := range s.Environment {
		env[k] = EnvVar{Name: k, Value: v, Known: true}
	}
	return env
}

// sameAs requires the service to set each variable to the value the pod
// gives it.
func sameAs(service string, env map[string]string, pod map[string]EnvVar, names ...string) []error {
	var errs []error
	for _, n := range names {
		want := pod[n]
		got, ok := env[n]
		if !ok || !want.Known || got != want.Value {
			errs = append(errs, fmt.Errorf("service %s: %s=%q, but the pod sets %q", service, n, got, want.Value))
		}
	}
	return errs
}

func checkComposeBuild(name string, s *Service, binary, root string) []error {
	if s.Build == nil {
		return []error{fmt.Errorf("service %s: no build section; the stack builds from this workspace", name)}
	}
	var errs []error
	want := "deploy/" + binary + ".Dockerfile"
	if binary == "buzz-relay" {
		want = "deploy/relay.Dockerfile"
	}
	if s.Build.Dockerfile != want {
		errs = append(errs, fmt.Errorf("service %s: dockerfile %q, want %q", name, s.Build.Dockerfile, want))
	}
	ctx := filepath.Join(root, "deploy", s.Build.Context)
	if abs, err := filepath.Abs(ctx); err != nil || abs != root {
		errs = append(errs, fmt.Errorf("service %s: build context %q is not the repository root", name, s.Build.Context))
	}
	if _, err := os.Stat(filepath.Join(root, s.Build.Dockerfile)); err != nil {
		errs = append(errs, fmt.Errorf("service %s: %w", name, err))
	}
	return errs
}

func checkStoreURL(c *Compose, service, name, raw string, port int) []error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Hostname() == "" {
		return []error{fmt.Errorf("service %s: %s=%q is not a URL with a host", service, name, raw)}
	}
	target := c.Services[u.Hostname()]
	if target == nil {
		return []error{fmt.Errorf("service %s: %s names host %q, which is no service", service, name, u.Hostname())}
	}
	if p := u.Port(); p != "" && p != strconv.Itoa(port) {
		return []error{fmt.Errorf("service %s: %s port %s, want %d", service, name, p, port)}
	}
	if target.Healthcheck == nil {
		return []error{fmt.Errorf("service %s has no healthcheck for %s to wait on", u.Hostname(), service)}
	}
	if dep, ok := c.Services[service].DependsOn[u.Hostname()]; !ok || dep.Condition != "service_healthy" {
		return []error{fmt.Errorf("service %s must depend on %s being healthy", service, u.Hostname())}
	}
	return nil
}

func checkComposeOTLP(c *Compose, service, raw string) []error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Hostname() == "" || u.Port() == "" {
		return []error{fmt.Errorf("service %s: %s=%q must name the trace backend's host and port", service, VarOTLPEndpoint, raw)}
	}
	target := c.Services[u.Hostname()]
	if target == nil {
		return []error{fmt.Errorf("service %s: %s names host %q, which is no service", service, VarOTLPEndpoint, u.Hostname())}
	}
	for _, p := range target.Ports {
		if pm, err := ParsePort(p); err == nil && strconv.Itoa(pm.Container) == u.Port() {
			return nil
		}
	}
	return []error{fmt.Errorf("service %s: %s port %s is not a port of %s", service, VarOTLPEndpoint, u.Port(), u.Hostname())}
}

// checkComposeGrace: docker's stop timeout plays terminationGracePeriod's
// part and must outlast the relay's own drain and deadline.
func checkComposeGrace(service string, s *Service) []error {
	drain, err1 := strconv.Atoi(s.Environment[VarDrainDelay])
	deadline, err2 := strconv.Atoi(s.Environment[VarShutdown])
	grace, err3 := time.ParseDuration(s.StopGracePeriod)
	if err1 != nil || err2 != nil || err3 != nil {
		return []error{fmt.Errorf("service %s: set %s, %s and stop_grace_period explicitly", service, VarDrainDelay, VarShutdown)}
	}
	if grace <= time.Duration(drain+deadline)*time.Second {
		return []error{fmt.Errorf("service %s: stop_grace_period %s must exceed %s + %s = %d s", service, grace, VarDrainDelay, VarShutdown, drain+deadline)}
	}
	return nil
}

func underAny(dir string, tmpfs, volumes []string) bool {
	if dir == "" {
		return false
	}
	for _, t := range tmpfs {
		p, _, _ := strings.Cut(t, ":")
		if under(dir, p) {
			return true
		}
	}
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && under(dir, parts[1]) && !(len(parts) == 3 && parts[2] == "ro") {
			return true
		}
	}
	return false
}

func sortedInts(set map[int]bool) []int {
	var out []int
	for k := range set {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
