package storetest

import (
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Signer makes correctly signed events for tests, so stored events pass the
// same checks real ones do.
type Signer struct {
	key *btcec.PrivateKey
	// PubKey is the x-only public key in lowercase hex.
	PubKey string
}

// NewSigner derives a key from seed, so tests are reproducible.
func NewSigner(seed string) *Signer {
	sum := sha256.Sum256([]byte("buzz storetest " + seed))
	sk, _ := btcec.PrivKeyFromBytes(sum[:])
	return &Signer{key: sk, PubKey: nostr.PublicKeyHex(sk)}
}

// Event builds and signs an event. Tags are copied; nil becomes empty.
func (s *Signer) Event(kind int, createdAt int64, content string, tags ...[]string) *nostr.Event {
	ev := &nostr.Event{CreatedAt: createdAt, Kind: kind, Content: content, Tags: [][]string{}}
	for _, t := range tags {
		ev.Tags = append(ev.Tags, append([]string(nil), t...))
	}
	if err := ev.Sign(s.key); err != nil {
		panic(fmt.Sprintf("storetest: sign: %v", err)) // only for an invalid key, which NewSigner never makes
	}
	return ev
}
