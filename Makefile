# buzz relay (Go): one workspace, four modules (deploy holds only the manifest checks).
MODULES := proto relay statsd-sidecar deploy
BIN     := bin
GO      ?= go
# Integration tests read these; the defaults match the CI machines.
export BUZZ_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export BUZZ_TEST_REDIS_URL    ?= redis://127.0.0.1:6379/0

.PHONY: all build run test test-race lint proto proto-check deploy-check bench clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/buzz-relay ./relay/cmd/buzz-relay
	$(GO) build -o $(BIN)/statsd-sidecar ./statsd-sidecar/cmd/statsd-sidecar

run: build
	@BIN=$(BIN) ./scripts/run.sh

test:
	@set -e; for m in $(MODULES); do \
		echo "== go test $$m"; \
		(cd $$m && $(GO) test -count=1 -timeout 12m ./...); \
	done

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# The race detector over the packages whose tests do not drive go-nostr's
# client (which has data races of its own, reported inside go-nostr).
RACE_PKGS := ./internal/fanout/... ./internal/access/... ./internal/audit/... ./internal/bus/... \
	./internal/metrics/... ./internal/metricsrpc/... ./internal/store/... ./internal/telemetry/... \
	./internal/systemtest/...

test-race:
	cd relay && $(GO) test -race -count=1 -timeout 12m $(RACE_PKGS)
	cd statsd-sidecar && $(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...) || exit 1; done

# buf compiles the schema itself; the two Go generators run through `go tool`
# (pinned by proto/go.mod's tool directives), so no protoc and no remote plugins.
BUF := $(GO) run github.com/bufbuild/buf/cmd/buf@v1.75.0
proto:
	cd proto && $(BUF) lint && $(BUF) generate
proto-check:
	cd proto && $(BUF) lint && $(GO) test -count=1 ./...

deploy-check:
	cd deploy && $(GO) test -count=1 -timeout 12m ./...

bench:
	@for m in relay statsd-sidecar; do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...) || exit 1; done

clean:
	rm -rf $(BIN) data
