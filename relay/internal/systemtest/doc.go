// Package systemtest holds the cross-process tests of the metrics split: they
// build the real buzz-relay and statsd-sidecar binaries, run them as separate
// processes on real sockets, drive traffic through the relay with an
// independent Nostr client, and judge what Prometheus would see on the
// sidecar's /metrics. Restarts, an absent or frozen sidecar, memory and
// ingest rate are all measured from outside the processes.
//
// The package has no code of its own; everything is in its _test.go files.
package systemtest
