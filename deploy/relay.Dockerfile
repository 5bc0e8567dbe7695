# syntax=docker/dockerfile:1
# The relay image. Build from the repository root:
#   docker build -f deploy/relay.Dockerfile -t ghcr.io/buzzrelay/buzz-relay:dev .
# The Go version matches the `go` line of go.work (the deploy checks compare).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=local
# Every module of the workspace must be present for go.work to load, but only
# the relay's sources (and the proto contract it imports) are compiled.
COPY go.work go.work.sum ./
COPY proto/ proto/
COPY relay/ relay/
COPY statsd-sidecar/go.mod statsd-sidecar/go.sum statsd-sidecar/
COPY deploy/go.mod deploy/go.sum deploy/
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags=-s -o /out/buzz-relay ./relay/cmd/buzz-relay

# Static binary on distroless: no shell, no package manager, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/buzz-relay /usr/local/bin/buzz-relay
USER 65532:65532
# 3000: WebSocket, HTTP API, NIP-11. 8080: /_liveness, /_readiness.
# The metrics stream (127.0.0.1:9103) is loopback-only and not exposed.
EXPOSE 3000 8080
ENTRYPOINT ["/usr/local/bin/buzz-relay"]
CMD ["serve"]
