// Package multinode tests several buzz-relay processes sharing one
// PostgreSQL schema and one Redis namespace (RELAY.md §7): cross-node
// delivery exactly once, private-channel isolation, membership changes
// reaching every node, Redis restarts, and topic hygiene. The relays are real
// processes built from cmd/buzz-relay; the clients are plain WebSockets.
package multinode
