# syntax=docker/dockerfile:1
# The statsd-sidecar image, versioned and released apart from the relay.
# Build from the repository root:
#   docker build -f deploy/statsd-sidecar.Dockerfile -t ghcr.io/buzzrelay/statsd-sidecar:dev .
# The Go version matches the `go` line of go.work (the deploy checks compare).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=local
# Every module of the workspace must be present for go.work to load; the
# sidecar imports only the proto contract, never the relay.
COPY go.work go.work.sum ./
COPY proto/ proto/
COPY statsd-sidecar/ statsd-sidecar/
COPY relay/go.mod relay/go.sum relay/
COPY deploy/go.mod deploy/go.sum deploy/
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags=-s -o /out/statsd-sidecar ./statsd-sidecar/cmd/statsd-sidecar

# Static binary on distroless: no shell, no package manager, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/statsd-sidecar /usr/local/bin/statsd-sidecar
USER 65532:65532
# 9102: GET /metrics (Prometheus text), /healthz, /readyz.
EXPOSE 9102
ENTRYPOINT ["/usr/local/bin/statsd-sidecar"]
