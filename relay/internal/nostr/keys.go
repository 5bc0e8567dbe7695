package nostr

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// ErrBadPrivateKey is returned for a private key that is not 64 hex
// characters or not a valid secp256k1 scalar (zero, or not below the order).
var ErrBadPrivateKey = errors.New("invalid private key")

// GeneratePrivateKey returns a new secp256k1 private key drawn from
// crypto/rand, for the relay's own identity and for tests.
func GeneratePrivateKey() (*btcec.PrivateKey, error) {
	sk, err := btcec.NewPrivateKey()
	if err != nil {
		return nil, fmt.Errorf("generate private key: %w", err)
	}
	return sk, nil
}

// ParsePrivateKeyHex decodes a 64-character hex private key (either case:
// unlike public keys, a secret is never compared as a string). It rejects
// zero and values not below the curve order rather than silently reducing
// them, so a mistyped key is an error instead of a different identity.
func ParsePrivateKeyHex(s string) (*btcec.PrivateKey, error) {
	if len(s) != 64 {
		return nil, fmt.Errorf("%w: want 64 hex characters, got %d characters", ErrBadPrivateKey, len(s))
	}
	var b [32]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return nil, fmt.Errorf("%w: not hex", ErrBadPrivateKey)
	}
	var k btcec.ModNScalar
	if overflow := k.SetBytes(&b); overflow != 0 {
		return nil, fmt.Errorf("%w: not below the secp256k1 group order", ErrBadPrivateKey)
	}
	if k.IsZero() {
		return nil, fmt.Errorf("%w: zero", ErrBadPrivateKey)
	}
	return btcec.PrivKeyFromScalar(&k), nil
}

// PrivateKeyHex returns the 64-character lowercase hex form of sk.
func PrivateKeyHex(sk *btcec.PrivateKey) string {
	b := sk.Key.Bytes()
	return hex.EncodeToString(b[:])
}

// PublicKeyHex returns the x-only (BIP-340) public key of sk as 64 lowercase
// hex characters, the form Nostr uses in "pubkey" fields.
func PublicKeyHex(sk *btcec.PrivateKey) string {
	return hex.EncodeToString(schnorr.SerializePubKey(sk.PubKey()))
}

// Sign sets PubKey to sk's x-only public key, then ID and Sig (BIP-340
// Schnorr over the id). Every other field must already hold its final value.
func (e *Event) Sign(sk *btcec.PrivateKey) error {
	if sk == nil {
		return fmt.Errorf("sign event: %w: nil key", ErrBadPrivateKey)
	}
	e.PubKey = PublicKeyHex(sk)
	id := sha256.Sum256(e.Serialize())
	sig, err := schnorr.Sign(sk, id[:])
	if err != nil {
		return fmt.Errorf("sign event: %w", err)
	}
	e.ID = hex.EncodeToString(id[:])
	e.Sig = hex.EncodeToString(sig.Serialize())
	return nil
}
