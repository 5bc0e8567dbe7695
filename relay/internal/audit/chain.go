package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// chainMagic starts every entry's canonical content. It names the encoding
// so that a future change of fields is a new version, never a silent
// reinterpretation of old hashes.
const chainMagic = "buzz-audit/v1\x00"

// Link returns the hash of e chained after prev: SHA-256(prev || content).
// prev is the previous entry's Hash, or empty for the first entry. Its
// signature matches the link function store.Audit.AppendAudit expects.
//
// content is, in this order and with every integer big-endian:
//
//	"buzz-audit/v1\x00"            14 bytes
//	time   int64   microseconds since the Unix epoch (UTC)
//	actor  uint32 length, bytes
//	action uint32 length, bytes
//	event  uint32 length, bytes   (event id, may be empty)
//	kind   int64
//	channel uint32 length, bytes  (may be empty)
//	detail uint32 length, bytes   (may be empty)
//
// Seq, PrevHash and Hash are not part of the content: the order of the
// chain is carried by prev, and Seq is the database's own numbering. The
// time is hashed at microsecond precision, the finest both PostgreSQL and
// SQLite keep, so an entry hashes the same before and after a round trip.
func Link(prev []byte, e *store.AuditEntry) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canonical(e))
	return h.Sum(nil)
}

// canonical encodes the hashed fields of e as documented at Link.
func canonical(e *store.AuditEntry) []byte {
	n := len(chainMagic) + 8 + 8 + 5*4 +
		len(e.Actor) + len(e.Action) + len(e.EventID) + len(e.Channel) + len(e.Detail)
	b := make([]byte, 0, n)
	b = append(b, chainMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	b = appendString(b, e.Actor)
	b = appendString(b, e.Action)
	b = appendString(b, e.EventID)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.Kind)))
	b = appendString(b, e.Channel)
	b = appendString(b, e.Detail)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Break describes the first broken link of the chain.
type Break struct {
	// Seq is the sequence number of the first entry that does not verify.
	Seq int64
	// Reason says what did not match.
	Reason string
}

// Error makes a Break printable as the verification failure it is.
func (b *Break) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", b.Seq, b.Reason)
}

// errStop ends the walk at the first break; it never escapes Verify.
var errStop = errors.New("stop")

// Verify walks the whole chain in sequence order and reports the first
// broken link, or a nil Break when every entry verifies. checked is the
// number of entries that verified before the walk ended. An entry breaks the
// chain when its Seq does not increase, when its PrevHash is not the Hash of
// the entry before it (an entry was removed, inserted or reordered), or when
// its Hash is not Link(PrevHash, entry) (its content or hash was altered).
// err reports only a failure to read the chain.
func Verify(ctx context.Context, st store.Audit) (checked int64, brk *Break, err error) {
	var (
		prev    []byte
		prevSeq int64
		first   = true
	)
	err = st.AuditEntries(ctx, func(e store.AuditEntry) error {
		switch {
		case !first && e.Seq <= prevSeq:
			brk = &Break{Seq: e.Seq, Reason: fmt.Sprintf("sequence number does not increase after %d", prevSeq)}
		case first && len(e.PrevHash) != 0:
			brk = &Break{Seq: e.Seq, Reason: "first entry has a previous hash: earlier entries are missing"}
		case !first && !bytes.Equal(e.PrevHash, prev):
			brk = &Break{Seq: e.Seq, Reason: fmt.Sprintf("previous hash does not match the hash of entry %d: an entry was removed, inserted or altered", prevSeq)}
		case !bytes.Equal(e.Hash, Link(e.PrevHash, &e)):
			brk = &Break{Seq: e.Seq, Reason: "hash does not match the entry's content: the entry was altered"}
		}
		if brk != nil {
			return errStop
		}
		checked++
		prev, prevSeq, first = e.Hash, e.Seq, false
		return nil
	})
	if brk != nil {
		// The store may wrap errStop any way it likes; the break is the answer.
		return checked, brk, nil
	}
	if err != nil {
		return checked, nil, fmt.Errorf("audit: read chain: %w", err)
	}
	return checked, brk, nil
}
