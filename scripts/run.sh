#!/usr/bin/env bash
# make run: start the relay on the embedded store and the statsd-sidecar,
# print where they listen, and stop both on Ctrl-C.
set -euo pipefail
BIN=${BIN:-bin}
export BUZZ_DATA_DIR=${BUZZ_DATA_DIR:-./data}
export BUZZ_BIND_ADDR=${BUZZ_BIND_ADDR:-127.0.0.1:3000}
export RELAY_URL=${RELAY_URL:-ws://localhost:3000}
export BUZZ_HEALTH_PORT=${BUZZ_HEALTH_PORT:-8080}
export BUZZ_METRICS_GRPC_ADDR=${BUZZ_METRICS_GRPC_ADDR:-127.0.0.1:9103}
export BUZZ_RELAY_METRICS_ADDR=${BUZZ_RELAY_METRICS_ADDR:-$BUZZ_METRICS_GRPC_ADDR}
export BUZZ_METRICS_PORT=${BUZZ_METRICS_PORT:-9102}
export BUZZ_DRAIN_DELAY_SECS=${BUZZ_DRAIN_DELAY_SECS:-0}

"$BIN/buzz-relay" serve &
relay=$!
"$BIN/statsd-sidecar" &
sidecar=$!

stop() {
  trap - INT TERM
  kill -TERM "$relay" "$sidecar" 2>/dev/null || true
  wait "$relay" "$sidecar" 2>/dev/null || true
}
trap stop INT TERM EXIT

cat >&2 <<MSG

  relay (Nostr WebSocket):  $RELAY_URL   (bound on $BUZZ_BIND_ADDR)
  NIP-11 document:          http://$BUZZ_BIND_ADDR/info
  health:                   http://127.0.0.1:$BUZZ_HEALTH_PORT/_readiness
  metrics stream (gRPC):    $BUZZ_METRICS_GRPC_ADDR
  Prometheus metrics:       http://127.0.0.1:$BUZZ_METRICS_PORT/metrics
  data dir:                 $BUZZ_DATA_DIR

  Ctrl-C stops both.

MSG
wait -n "$relay" "$sidecar" || true
