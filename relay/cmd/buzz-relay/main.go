// Command buzz-relay runs the buzz Nostr relay and its operator subcommands:
//
//	buzz-relay [serve]                       run the relay
//	buzz-relay migrate                       apply schema migrations and exit
//	buzz-relay allowlist add|remove|list     manage BUZZ_PUBKEY_ALLOWLIST
//	buzz-relay members add|remove|list       manage relay membership
//	buzz-relay audit verify                  walk the audit hash chain
//	buzz-relay env                           print the environment variables read
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/buzzrelay/buzz/relay/internal/config"
	"github.com/buzzrelay/buzz/relay/internal/server"
	"github.com/buzzrelay/buzz/relay/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "env" {
		fmt.Fprintln(stdout, strings.Join(config.Variables, "\n"))
		return 0
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "buzz-relay: configuration error:\n%v\n", err)
		return 2
	}
	log := newLogger(stdout, cfg.LogLevel)
	switch cmd {
	case "serve":
		return serve(cfg, log)
	case "migrate", "allowlist", "members", "audit":
		return admin(cmd, args, cfg, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "buzz-relay: unknown command %q\n%s\n", cmd, usage)
		return 2
	}
}

const usage = `usage: buzz-relay [serve|migrate|allowlist add|remove|list|members add|remove|list|audit verify|env]`

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(cfg *config.Config, log *slog.Logger) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	tracing := telemetry.Start(ctx, os.Getenv, version)
	// The SDK reports export failures through its process-wide handler;
	// route them into the JSON log instead of plain stderr.
	otel.SetErrorHandler(telemetry.ErrorHandler{Logger: log})
	for _, w := range tracing.Warnings {
		log.Warn("tracing configuration", "warning", w)
	}
	switch tracing.Outcome {
	case telemetry.Enabled:
		log.Info("tracing enabled", "endpoint", cfg.OTLPEndpoint)
	case telemetry.ExporterBuildFailed:
		log.Warn("tracing disabled: OTLP exporter could not be built", "error", tracing.Err)
	}
	if cfg.PoolMetricsClamped {
		log.Warn("BUZZ_POOL_METRICS_INTERVAL_SECS below 1 was raised to 1")
	}

	srv, err := server.New(ctx, cfg, log, tracing, version)
	if err != nil {
		log.Error("start-up failed", "error", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error("start-up failed", "error", err)
		srv.Abort()
		return 1
	}
	<-ctx.Done()
	stop()
	log.Info("shutdown: signal received", "deadline", cfg.ShutdownDeadline.String())

	// The hard deadline ends the process even if a step hangs.
	hard := time.AfterFunc(cfg.ShutdownDeadline, func() {
		log.Error("shutdown: hard deadline reached, exiting")
		os.Exit(3)
	})
	defer hard.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownDeadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown: finished with errors", "error", err)
		return 1
	}
	log.Info("shutdown: complete")
	return 0
}
