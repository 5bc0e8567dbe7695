package check

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// EnvVar is one environment variable a container receives and its source.
type EnvVar struct {
	Name string
	// Value is the literal or ConfigMap value; Known says whether the
	// manifests determine it (a Secret or downward-API value is not known).
	Value string
	Known bool
	// ConfigMap names the ConfigMap the value came from, if any.
	ConfigMap string
	// Secret is set when the value comes from a Secret key.
	Secret *corev1.SecretKeySelector
}

// ContainerEnv resolves what a container's environment will hold: envFrom
// sources in order, then env, later entries winning as in Kubernetes. An
// optional ConfigMap that the manifests do not define contributes nothing;
// a required one that is missing, or a whole Secret poured in with envFrom
// (whose keys cannot be checked), is an error.
func ContainerEnv(m *Manifests, c *corev1.Container) (map[string]EnvVar, []error) {
	env := map[string]EnvVar{}
	var errs []error
	for _, src := range c.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			cm := m.ConfigMap(src.ConfigMapRef.Name)
			if cm == nil {
				if src.ConfigMapRef.Optional == nil || !*src.ConfigMapRef.Optional {
					errs = append(errs, fmt.Errorf("container %s: envFrom ConfigMap %q is not defined", c.Name, src.ConfigMapRef.Name))
				}
				continue
			}
			for k, v := range cm.Data {
				n := src.Prefix + k
				env[n] = EnvVar{Name: n, Value: v, Known: true, ConfigMap: cm.Name}
			}
			if len(cm.BinaryData) > 0 {
				errs = append(errs, fmt.Errorf("ConfigMap %s: binaryData cannot be environment", cm.Name))
			}
		case src.SecretRef != nil:
			errs = append(errs, fmt.Errorf("container %s: envFrom Secret %q sets variables the checks cannot see; name each key with env.valueFrom.secretKeyRef", c.Name, src.SecretRef.Name))
		}
	}
	for _, e := range c.Env {
		v := EnvVar{Name: e.Name}
		switch {
		case e.ValueFrom == nil:
			v.Value, v.Known = e.Value, true
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			optional := ref.Optional != nil && *ref.Optional
			cm := m.ConfigMap(ref.Name)
			val, ok := "", false
			if cm != nil {
				val, ok = cm.Data[ref.Key]
			}
			if !ok {
				if !optional {
					errs = append(errs, fmt.Errorf("container %s: %s names ConfigMap %s key %q, which is not defined", c.Name, e.Name, ref.Name, ref.Key))
				}
				continue
			}
			v.Value, v.Known, v.ConfigMap = val, true, cm.Name
		case e.ValueFrom.SecretKeyRef != nil:
			v.Secret = e.ValueFrom.SecretKeyRef
		}
		env[e.Name] = v
	}
	return env, errs
}
