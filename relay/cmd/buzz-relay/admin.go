package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/audit"
	"github.com/buzzrelay/buzz/relay/internal/config"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/server"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// admin runs the operator subcommands against the configured store.
func admin(cmd string, args []string, cfg *config.Config, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "buzz-relay %s: %v\n", cmd, err)
		return 1
	}
	defer st.Close()
	switch cmd {
	case "migrate":
		fmt.Fprintln(stdout, "migrations applied")
		return 0
	case "allowlist":
		return pubkeyList(ctx, "allowlist", st.Allowlist(), st, args, stdout, stderr)
	case "members":
		return pubkeyList(ctx, "members", st.RelayMembers(), st, args, stdout, stderr)
	case "audit":
		if len(args) != 1 || args[0] != "verify" {
			fmt.Fprintln(stderr, "usage: buzz-relay audit verify")
			return 2
		}
		n, brk, err := audit.Verify(ctx, st)
		if err != nil {
			fmt.Fprintf(stderr, "buzz-relay audit verify: %v\n", err)
			return 1
		}
		if brk != nil {
			fmt.Fprintf(stdout, "audit chain BROKEN at seq %d: %s (%d entries checked)\n", brk.Seq, brk.Reason, n)
			return 1
		}
		fmt.Fprintf(stdout, "audit chain intact: %d entries\n", n)
		return 0
	}
	return 2
}

func pubkeyList(ctx context.Context, name string, list store.PubkeyList, st store.Store, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: buzz-relay %s add|remove <pubkey>... | list\n", name)
		return 2
	}
	switch args[0] {
	case "list":
		keys, err := list.List(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "buzz-relay %s list: %v\n", name, err)
			return 1
		}
		for _, k := range keys {
			npub, _ := nostr.EncodeNpub(k)
			fmt.Fprintf(stdout, "%s %s\n", k, npub)
		}
		return 0
	case "add", "remove":
		if len(args) < 2 {
			fmt.Fprintf(stderr, "usage: buzz-relay %s %s <pubkey>...\n", name, args[0])
			return 2
		}
		// Validate every key before changing anything.
		keys := make([]string, 0, len(args)-1)
		for _, a := range args[1:] {
			k, err := nostr.ParsePubkey(a)
			if err != nil {
				fmt.Fprintf(stderr, "buzz-relay %s %s: %q: %v (give 64 lowercase hex characters or an npub)\n", name, args[0], a, err)
				return 2
			}
			keys = append(keys, k)
		}
		aud := audit.New(st, nil, audit.Options{QueueSize: len(keys) + 1, MaxBatch: 100})
		go aud.Run(ctx)
		for _, k := range keys {
			var err error
			if args[0] == "add" {
				err = list.Add(ctx, k)
			} else {
				err = list.Remove(ctx, k)
			}
			if err != nil {
				fmt.Fprintf(stderr, "buzz-relay %s %s %s: %v\n", name, args[0], k, err)
				return 1
			}
			_ = aud.Record(ctx, audit.AllowlistChanged("operator", k, name+"_"+args[0]))
			fmt.Fprintf(stdout, "%s %s: %s\n", name, args[0], k)
		}
		if err := aud.Close(ctx); err != nil {
			fmt.Fprintf(stderr, "buzz-relay %s: audit entries not written: %v\n", name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "usage: buzz-relay %s add|remove <pubkey>... | list\n", name)
	return 2
}
