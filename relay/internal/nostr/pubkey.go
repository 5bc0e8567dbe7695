package nostr

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// ErrBadPubkey wraps every ParsePubkey and EncodeNpub failure.
var ErrBadPubkey = errors.New("invalid public key")

// ParsePubkey accepts an operator-supplied public key, either exactly 64
// lowercase hex characters or a NIP-19 "npub1..." string, and returns the
// lowercase hex form the relay stores and compares. Uppercase hex is refused
// rather than folded because keys are compared as strings everywhere else,
// and an nsec is refused loudly because pasting one is a leak.
func ParsePubkey(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadPubkey)
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "npub1"):
		return decodeNpub(s)
	case strings.HasPrefix(lower, "nsec1"):
		return "", fmt.Errorf("%w: this is an nsec (a private key); give the npub or hex public key instead", ErrBadPubkey)
	case strings.HasPrefix(lower, "nprofile1"), strings.HasPrefix(lower, "note1"),
		strings.HasPrefix(lower, "nevent1"), strings.HasPrefix(lower, "naddr1"):
		return "", fmt.Errorf("%w: %s... is not an npub; give the npub or hex public key", ErrBadPubkey, lower[:strings.IndexByte(lower, '1')+1])
	}
	if len(s) != 64 {
		return "", fmt.Errorf("%w: want 64 hex characters or an npub, got %d characters", ErrBadPubkey, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			return "", fmt.Errorf("%w: hex must be lowercase (uppercase %q at position %d)", ErrBadPubkey, c, i)
		default:
			return "", fmt.Errorf("%w: not hex (%q at position %d)", ErrBadPubkey, c, i)
		}
	}
	return s, nil
}

func decodeNpub(s string) (string, error) {
	hrp, data, version, err := bech32.DecodeGeneric(s)
	if err != nil {
		return "", fmt.Errorf("%w: bad npub: %w", ErrBadPubkey, err)
	}
	if hrp != "npub" {
		return "", fmt.Errorf("%w: bech32 prefix is %q, want \"npub\"", ErrBadPubkey, hrp)
	}
	// NIP-19 uses the original bech32 checksum; a bech32m string with the
	// same payload is a different encoding and not an npub.
	if version != bech32.Version0 {
		return "", fmt.Errorf("%w: npub uses a bech32m checksum, want bech32", ErrBadPubkey)
	}
	key, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil {
		return "", fmt.Errorf("%w: bad npub payload: %w", ErrBadPubkey, err)
	}
	if len(key) != 32 {
		return "", fmt.Errorf("%w: npub holds %d bytes, want 32", ErrBadPubkey, len(key))
	}
	return hex.EncodeToString(key), nil
}

// EncodeNpub returns the NIP-19 npub form of a 64-character lowercase hex
// public key, for human-facing output such as `allowlist list`.
func EncodeNpub(pubkeyHex string) (string, error) {
	if !IsHex(pubkeyHex, 64) {
		return "", fmt.Errorf("%w: want 64 lowercase hex characters", ErrBadPubkey)
	}
	raw, err := hex.DecodeString(pubkeyHex)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadPubkey, err)
	}
	data, err := bech32.ConvertBits(raw, 8, 5, true)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadPubkey, err)
	}
	s, err := bech32.Encode("npub", data)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadPubkey, err)
	}
	return s, nil
}
