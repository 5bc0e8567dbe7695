package telemetry

import "log/slog"

// ErrorHandler routes the OpenTelemetry SDK's internal errors (failed
// exports, dropped spans) to a structured logger as warnings; without it the
// SDK prints plain-text lines on stderr. Installing it takes
// otel.SetErrorHandler, a process global, so that choice is left to main.
type ErrorHandler struct {
	Logger *slog.Logger
}

// Handle logs err as a warning.
func (h ErrorHandler) Handle(err error) {
	h.Logger.Warn("opentelemetry error", "err", err)
}
