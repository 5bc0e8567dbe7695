// Package auditlink extends the hash-chained audit log in memory: it gives
// new entries their sequence numbers, times and hashes after the last
// stored entry. Each store reads that last entry and writes the result
// under its own serialisation (advisory lock, IMMEDIATE transaction).
package auditlink

import (
	"bytes"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Apply fills in each entry's Seq (after lastSeq), Time (now when zero;
// UTC, truncated to the microsecond because that is what the stores keep
// and what link must see), PrevHash (prev for the first) and Hash (link's
// result), in place.
func Apply(entries []store.AuditEntry, lastSeq int64, prev []byte, now time.Time, link func(prev []byte, e *store.AuditEntry) []byte) {
	seq := lastSeq
	for i := range entries {
		e := &entries[i]
		seq++
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		e.PrevHash = prev
		e.Hash = link(prev, e)
		prev = e.Hash
	}
}

// Retry reports whether entries come back from an earlier AppendAudit
// attempt: their first entry already carries the Seq and Hash that attempt
// gave it. The store then asks, under its serialisation, whether that seq
// holds that hash; if so the earlier attempt committed (only its
// acknowledgement was lost) and appending again would store every entry
// twice.
func Retry(entries []store.AuditEntry) (seq int64, hash []byte, ok bool) {
	if len(entries) == 0 || entries[0].Seq == 0 || len(entries[0].Hash) == 0 {
		return 0, nil, false
	}
	return entries[0].Seq, entries[0].Hash, true
}

// Written reports whether stored, the hash found at the retry's seq (nil
// when that seq is empty), shows the earlier attempt committed. A batch is
// one transaction, so its first entry being there means all of it is; a
// different hash means another writer took the seq and the batch must be
// linked afresh.
func Written(stored, hash []byte) bool {
	return stored != nil && bytes.Equal(stored, hash)
}
