package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// relayKey returns the relay's own key: the configured one, or one generated
// once and kept in the data directory (with a warning, since a pod without a
// persistent data dir gets a new identity on every start).
func relayKey(configured, dataDir string, log *slog.Logger) (*btcec.PrivateKey, error) {
	if configured != "" {
		return nostr.ParsePrivateKeyHex(configured)
	}
	path := filepath.Join(dataDir, "relay.key")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return nostr.ParsePrivateKeyHex(strings.TrimSpace(string(b)))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read relay key: %w", err)
	}
	sk, err := btcec.NewPrivateKey()
	if err != nil {
		return nil, fmt.Errorf("generate relay key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(nostr.PrivateKeyHex(sk)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write relay key: %w", err)
	}
	log.Warn("BUZZ_RELAY_PRIVATE_KEY is unset: generated a relay key and stored it in the data dir", "path", path)
	return sk, nil
}
