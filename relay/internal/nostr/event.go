// Package nostr holds the Nostr data model: events, filters, client and relay
// messages, NIP-01 canonical serialisation, event ids and BIP-340 signatures.
// It imports nothing else from the relay so every other package can use it.
package nostr

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// Event is a signed Nostr event (NIP-01).
type Event struct {
	ID        string     `json:"id"`
	PubKey    string     `json:"pubkey"`
	CreatedAt int64      `json:"created_at"`
	Kind      int        `json:"kind"`
	Tags      [][]string `json:"tags"`
	Content   string     `json:"content"`
	Sig       string     `json:"sig"`
}

// Errors returned by Event.Check. They are the text after "invalid: " in an
// OK message, so they are written for the client.
var (
	ErrBadID        = errors.New("event id does not match its content")
	ErrBadSignature = errors.New("signature verification failed")
	ErrBadHex       = errors.New("malformed hex field")
)

// Serialize returns the NIP-01 canonical form
// [0,<pubkey>,<created_at>,<kind>,<tags>,<content>] whose sha256 is the id.
func (e *Event) Serialize() []byte {
	b := make([]byte, 0, 48+len(e.PubKey)+e.stringsSize())
	b = append(b, `[0,"`...)
	b = append(b, e.PubKey...)
	b = append(b, `",`...)
	b = strconv.AppendInt(b, e.CreatedAt, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(e.Kind), 10)
	b = append(b, ',')
	b = appendTags(b, e.Tags)
	b = append(b, ',')
	b = AppendString(b, e.Content)
	b = append(b, ']')
	return b
}

// ComputeID returns the hex sha256 of the canonical serialisation.
func (e *Event) ComputeID() string {
	sum := sha256.Sum256(e.Serialize())
	return hex.EncodeToString(sum[:])
}

// Check verifies the id and the BIP-340 signature. The hex fields must be
// lowercase and of the right length.
func (e *Event) Check() error {
	if !IsHex(e.ID, 64) || !IsHex(e.PubKey, 64) || !IsHex(e.Sig, 128) {
		return ErrBadHex
	}
	sum := sha256.Sum256(e.Serialize())
	var id [32]byte
	if _, err := hex.Decode(id[:], []byte(e.ID)); err != nil {
		return ErrBadHex
	}
	if id != sum {
		return ErrBadID
	}
	return verifySig(e.PubKey, e.Sig, sum[:])
}

func verifySig(pubkeyHex, sigHex string, msg []byte) error {
	pk, err := hex.DecodeString(pubkeyHex)
	if err != nil {
		return ErrBadHex
	}
	key, err := schnorr.ParsePubKey(pk)
	if err != nil {
		return fmt.Errorf("%w: bad public key", ErrBadSignature)
	}
	sb, err := hex.DecodeString(sigHex)
	if err != nil {
		return ErrBadHex
	}
	sig, err := schnorr.ParseSignature(sb)
	if err != nil {
		return ErrBadSignature
	}
	if !sig.Verify(msg, key) {
		return ErrBadSignature
	}
	return nil
}

// IsHex reports whether s is exactly n lowercase hex characters.
func IsHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Tag returns the first value of the first tag named name, and whether one exists.
func (e *Event) Tag(name string) (string, bool) {
	for _, t := range e.Tags {
		if len(t) >= 2 && t[0] == name {
			return t[1], true
		}
	}
	return "", false
}

// TagValues returns the values (second element) of every tag named name.
func (e *Event) TagValues(name string) []string {
	var out []string
	for _, t := range e.Tags {
		if len(t) >= 2 && t[0] == name {
			out = append(out, t[1])
		}
	}
	return out
}

// CountTags returns how many tags are named name.
func (e *Event) CountTags(name string) int {
	n := 0
	for _, t := range e.Tags {
		if len(t) >= 1 && t[0] == name {
			n++
		}
	}
	return n
}

// DTag returns the value of the "d" tag, "" when absent (NIP-01 addressable).
func (e *Event) DTag() string {
	d, _ := e.Tag("d")
	return d
}

// MarshalJSON writes the event with the same escaping as the canonical form,
// so the bytes a client receives hash to the id it sees.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

// AppendJSON appends the event's JSON object to b.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, e.ID...)
	b = append(b, `","pubkey":"`...)
	b = append(b, e.PubKey...)
	b = append(b, `","created_at":`...)
	b = strconv.AppendInt(b, e.CreatedAt, 10)
	b = append(b, `,"kind":`...)
	b = strconv.AppendInt(b, int64(e.Kind), 10)
	b = append(b, `,"tags":`...)
	b = appendTags(b, e.Tags)
	b = append(b, `,"content":`...)
	b = AppendString(b, e.Content)
	b = append(b, `,"sig":"`...)
	b = append(b, e.Sig...)
	b = append(b, `"}`...)
	return b
}

func appendTags(b []byte, tags [][]string) []byte {
	b = append(b, '[')
	for i, t := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, s := range t {
			if j > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, s)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// AppendString appends s as a JSON string with NIP-01's escaping: \" \\ \n \r
// \t \b \f escaped by name, other control characters as \u00XX, everything
// else (including non-ASCII and '/') written as the raw UTF-8 bytes.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // bytes s[start:i] need no escaping and are copied in one go
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			const hexdig = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&0xf])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// stringsSize is the unescaped size of the content and tags plus their
// quotes and separators: a close capacity hint, so that encoding an event
// allocates once unless it has many characters to escape.
func (e *Event) stringsSize() int {
	n := len(e.Content) + 2 + 2
	for _, t := range e.Tags {
		n += 3
		for _, v := range t {
			n += len(v) + 3
		}
	}
	return n + len(e.Content)/16
}

// validUTF8 reports whether every string of the event is valid UTF-8; the
// parser rejects events that are not, since their canonical form is ambiguous.
func (e *Event) validUTF8() bool {
	if !utf8.ValidString(e.Content) {
		return false
	}
	for _, t := range e.Tags {
		for _, s := range t {
			if !utf8.ValidString(s) {
				return false
			}
		}
	}
	return true
}
