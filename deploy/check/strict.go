package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// decodeStrict decodes one YAML document into out, rejecting duplicate keys
// and unknown fields. encoding/json matches field names without regard to
// case, which the API server does not, so the typed value is encoded again
// and every field of the input must come back under the same spelling with
// the same value.
func decodeStrict(doc []byte, out any) error {
	if err := yaml.UnmarshalStrict(doc, out); err != nil {
		return err
	}
	in, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	back, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode again: %w", err)
	}
	var a, b any
	if err := json.Unmarshal(in, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(back, &b); err != nil {
		return err
	}
	return covered("", a, b)
}

// covered reports the first part of in that out does not hold. A zero value
// the typed form omits (false, 0, "", empty list or map) counts as held.
func covered(path string, in, out any) error {
	switch iv := in.(type) {
	case map[string]any:
		om, ok := out.(map[string]any)
		if !ok {
			if len(iv) == 0 {
				return nil
			}
			return fmt.Errorf("%s: not decoded as an object", orRoot(path))
		}
		for k, v := range iv {
			ov, present := om[k]
			if !present {
				if isZero(v) {
					continue
				}
				return fmt.Errorf("%s.%s: unknown field (names are case-sensitive)", orRoot(path), k)
			}
			if err := covered(path+"."+k, v, ov); err != nil {
				return err
			}
		}
		return nil
	case []any:
		ol, ok := out.([]any)
		if !ok || len(ol) != len(iv) {
			if len(iv) == 0 {
				return nil
			}
			return fmt.Errorf("%s: list not decoded whole", orRoot(path))
		}
		for i := range iv {
			if err := covered(fmt.Sprintf("%s[%d]", path, i), iv[i], ol[i]); err != nil {
				return err
			}
		}
		return nil
	default:
		if reflect.DeepEqual(in, out) || sameScalar(in, out) {
			return nil
		}
		return fmt.Errorf("%s: %v decoded as %v", orRoot(path), in, out)
	}
}

// sameScalar accepts the API types' canonical forms of one value: a quantity
// "1Gi" stays "1Gi", but an int-or-string 80 may come back as 80 and a
// number may be written as a string where the type is a string.
func sameScalar(in, out any) bool {
	return fmt.Sprint(in) == fmt.Sprint(out)
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func orRoot(path string) string {
	if path == "" {
		return "(document)"
	}
	return strings.TrimPrefix(path, ".")
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocuments cuts a YAML stream at its `---` lines and drops documents
// that hold only comments or whitespace.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSeparator.Split(string(data), -1) {
		if hasContent([]byte(d)) {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func hasContent(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return true
		}
	}
	return false
}

// decodeLoose reads only what out declares, ignoring the rest; it is used to
// learn a document's kind before the strict decode.
func decodeLoose(doc []byte, out any) error {
	return yaml.Unmarshal(doc, out)
}
