#!/usr/bin/env bash
# make run: start the relay on the embedded store and the statsd-sidecar,
# print where they listen, and stop both on Ctrl-C.
set -euo pipefail
BIN=${BIN:-bin}

# port_from N: N if nothing listens on it, else the next free port above it,
# so a machine that already uses a default port still gets a running stack.
# Ports already handed out are skipped too (nothing listens on them yet).
taken=" "
port_from() {
  local p=$1
  while [[ $taken == *" $p "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
    echo "port $p is in use; trying $((p + 1))" >&2
    p=$((p + 1))
  done
  echo "$p"
}
take() { taken="$taken$1 "; }

export BUZZ_DATA_DIR=${BUZZ_DATA_DIR:-./data}
export BUZZ_BIND_ADDR=${BUZZ_BIND_ADDR:-127.0.0.1:$(port_from 3000)}
take "${BUZZ_BIND_ADDR##*:}"
export RELAY_URL=${RELAY_URL:-ws://localhost:${BUZZ_BIND_ADDR##*:}}
export BUZZ_HEALTH_PORT=${BUZZ_HEALTH_PORT:-$(port_from 8080)}
take "$BUZZ_HEALTH_PORT"
export BUZZ_METRICS_GRPC_ADDR=${BUZZ_METRICS_GRPC_ADDR:-127.0.0.1:$(port_from 9103)}
take "${BUZZ_METRICS_GRPC_ADDR##*:}"
export BUZZ_RELAY_METRICS_ADDR=${BUZZ_RELAY_METRICS_ADDR:-$BUZZ_METRICS_GRPC_ADDR}
export BUZZ_METRICS_PORT=${BUZZ_METRICS_PORT:-$(port_from 9102)}
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
# If either process ends (a bad setting, say), stop the other and report it.
wait -n "$relay" "$sidecar" || status=$?
echo "a process exited (status ${status:-0}); stopping" >&2
