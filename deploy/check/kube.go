package check

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kustomization is the part of kustomize's file format the manifests use.
// Anything else in the file is an error, so a feature the checks do not
// understand cannot slip in unchecked.
type Kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Resources  []string         `json:"resources"`
	Images     []KustomizeImage `json:"images,omitempty"`
}

// KustomizeImage pins one image's tag apart from the others.
type KustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Manifests is everything one kustomization renders, decoded strictly into
// the Kubernetes API types.
type Manifests struct {
	Dir           string
	Kustomization *Kustomization
	Deployments   []*appsv1.Deployment
	Services      []*corev1.Service
	ConfigMaps    []*corev1.ConfigMap
	Budgets       []*policyv1.PodDisruptionBudget
	// Images holds the image pins of the kustomization and its bases; an
	// overlay's entry replaces its base's.
	Images map[string]KustomizeImage
	// Files lists every manifest file read, bases included.
	Files []string
}

// LoadManifests reads dir/kustomization.yaml and every resource it lists:
// files are decoded, directories are loaded as kustomizations in turn.
func LoadManifests(dir string) (*Manifests, error) {
	m := &Manifests{Dir: dir, Images: map[string]KustomizeImage{}}
	k, err := m.load(dir, map[string]bool{})
	if err != nil {
		return nil, err
	}
	m.Kustomization = k
	return m, nil
}

func (m *Manifests) load(dir string, seen map[string]bool) (*Kustomization, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if seen[abs] {
		return nil, fmt.Errorf("%s: kustomization cycle", dir)
	}
	seen[abs] = true
	path := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k Kustomization
	if err := decodeStrict(data, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		return nil, fmt.Errorf("%s: apiVersion/kind %q/%q is not a kustomization", path, k.APIVersion, k.Kind)
	}
	var errs []error
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: resource %q: %w", path, r, err))
			continue
		}
		if st.IsDir() {
			if _, err := m.load(p, seen); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := m.loadFile(p); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, unlisted(dir, k.Resources)...)
	for _, im := range k.Images {
		m.Images[im.Name] = im
	}
	return &k, errors.Join(errs...)
}

// unlisted reports manifest files that sit in a kustomization's directory
// but are not among its resources: they would never be applied.
func unlisted(dir string, resources []string) []error {
	listed := map[string]bool{}
	for _, r := range resources {
		listed[filepath.Clean(r)] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == "kustomization.yaml" || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			continue
		}
		if !listed[n] {
			errs = append(errs, fmt.Errorf("%s: not listed in kustomization.yaml resources", filepath.Join(dir, n)))
		}
	}
	return errs
}

func (m *Manifests) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	objs, err := DecodeObjects(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	m.Files = append(m.Files, path)
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			m.Deployments = append(m.Deployments, v)
		case *corev1.Service:
			m.Services = append(m.Services, v)
		case *corev1.ConfigMap:
			m.ConfigMaps = append(m.ConfigMaps, v)
		case *policyv1.PodDisruptionBudget:
			m.Budgets = append(m.Budgets, v)
		}
	}
	return nil
}

// DecodeObjects decodes every document of a YAML stream into its API type.
// Only the kinds the deployment uses are accepted; an unknown field, a field
// spelled with the wrong case or a duplicate key is an error.
func DecodeObjects(data []byte) ([]any, error) {
	var out []any
	for i, doc := range splitDocuments(data) {
		var tm metav1.TypeMeta
		if err := decodeLoose(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/Deployment":
			obj = &appsv1.Deployment{}
		case "v1/Service":
			obj = &corev1.Service{}
		case "v1/ConfigMap":
			obj = &corev1.ConfigMap{}
		case "policy/v1/PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		default:
			return nil, fmt.Errorf("document %d: unsupported kind %q (apiVersion %q)", i+1, tm.Kind, tm.APIVersion)
		}
		if err := decodeStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err)
		}
		out = append(out, obj)
	}
	if len(out) == 0 {
		return nil, errors.New("no documents")
	}
	return out, nil
}

// ConfigMap returns the named ConfigMap, or nil.
func (m *Manifests) ConfigMap(name string) *corev1.ConfigMap {
	for _, c := range m.ConfigMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Deployment returns the only Deployment, or an error when there is not
// exactly one.
func (m *Manifests) Deployment() (*appsv1.Deployment, error) {
	if len(m.Deployments) != 1 {
		return nil, fmt.Errorf("want exactly one Deployment, found %d", len(m.Deployments))
	}
	return m.Deployments[0], nil
}

// Container returns the named container of the pod template, or nil.
func Container(d *appsv1.Deployment, name string) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == name {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// sortedKeys returns a set's members in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
