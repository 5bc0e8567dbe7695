package postgres

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// lockKey turns a key into the bigint an advisory lock takes.
func lockKey(key []byte) int64 {
	return int64(binary.BigEndian.Uint64(key[:8]))
}

// idLockKey is the advisory lock serialising saves and deletions of one id.
func idLockKey(id string) int64 {
	sum := sha256.Sum256([]byte("id:" + id))
	return lockKey(sum[:])
}

// maxTagValue is the longest tag value stored verbatim in event_tags.
const maxTagValue = 256

// tagKey maps a tag value to what event_tags stores: the value itself, or
// for long values and values PostgreSQL text cannot hold (NUL) a marker
// byte and the value's sha256. The marker never starts a verbatim value
// (such values are hashed too), so the mapping stays one to one.
func tagKey(v string) string {
	if len(v) <= maxTagValue && !strings.ContainsRune(v, 0) && !strings.HasPrefix(v, "\x01") {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "\x01" + hex.EncodeToString(sum[:])
}

// textSafe drops values PostgreSQL text cannot hold; no stored column can
// equal them, so dropping them from a filter changes nothing it matches.
func textSafe(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !strings.ContainsRune(v, 0) {
			out = append(out, v)
		}
	}
	return out
}
