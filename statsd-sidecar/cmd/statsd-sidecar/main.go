// Command statsd-sidecar follows the relay's local metrics stream and serves
// the relay's metrics to Prometheus on BUZZ_METRICS_PORT (default 9102), so
// scrapes never reach the relay process.
//
//	statsd-sidecar        run
//	statsd-sidecar env    print the environment variables it reads
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/buzzrelay/buzz/statsd-sidecar/internal/config"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/exposition"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/stream"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "env":
			fmt.Println(strings.Join(config.Variables(), "\n"))
			os.Exit(0)
		default:
			fmt.Fprintf(os.Stderr, "statsd-sidecar: unknown command %q (usage: statsd-sidecar [env])\n", os.Args[1])
			os.Exit(2)
		}
	}
	os.Exit(run())
}

func run() int {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st := state.New(state.DefaultMaxSeries)
	client := stream.New(cfg.RelayAddr, st, stream.WithLogger(log))
	lis, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		log.Error("listen", "addr", cfg.ListenAddr(), "err", err)
		return 1
	}
	srv := &http.Server{Handler: exposition.NewHandler(st, client, log), ReadHeaderTimeout: 5 * time.Second}
	log.Info("listening", "addr", lis.Addr().String(), "relay", cfg.RelayAddr)

	followed := make(chan error, 1)
	go func() { followed <- client.Run(ctx) }()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	code := 0
	select {
	case <-ctx.Done():
	case err := <-served:
		log.Error("http server stopped", "err", err)
		code = 1
	case err := <-followed:
		if err != nil {
			log.Error("relay stream client failed", "err", err)
			code = 1
		}
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	log.Info("stopped")
	return code
}
