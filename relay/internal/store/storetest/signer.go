package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"

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
	return &Signer{key: sk, PubKey: hex.EncodeToString(schnorr.SerializePubKey(sk.PubKey()))}
}

// Event builds and signs an event. Tags are copied; nil becomes empty.
func (s *Signer) Event(kind int, createdAt int64, content string, tags ...[]string) *nostr.Event {
	ev := &nostr.Event{PubKey: s.PubKey, CreatedAt: createdAt, Kind: kind, Content: content, Tags: [][]string{}}
	for _, t := range tags {
		ev.Tags = append(ev.Tags, append([]string(nil), t...))
	}
	s.Sign(ev)
	return ev
}

// Sign sets ev's pubkey, id and signature.
func (s *Signer) Sign(ev *nostr.Event) {
	ev.PubKey = s.PubKey
	ev.ID = ev.ComputeID()
	id, err := hex.DecodeString(ev.ID)
	if err != nil {
		panic(fmt.Sprintf("storetest: computed id is not hex: %v", err)) // cannot happen: ComputeID returns hex
	}
	sig, err := schnorr.Sign(s.key, id)
	if err != nil {
		panic(fmt.Sprintf("storetest: sign: %v", err)) // only for an invalid key, which NewSigner never makes
	}
	ev.Sig = hex.EncodeToString(sig.Serialize())
}
