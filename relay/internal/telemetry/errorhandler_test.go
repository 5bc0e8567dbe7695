package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel"
)

func TestErrorHandlerLogsWarningJSON(t *testing.T) {
	var buf bytes.Buffer
	var h otel.ErrorHandler = ErrorHandler{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	h.Handle(errors.New("export failed"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	if line["level"] != "WARN" || line["err"] != "export failed" {
		t.Fatalf("logged %v", line)
	}
}
