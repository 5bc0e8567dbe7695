// Package auditlink extends the hash-chained audit log in memory: it gives
// new entries their sequence numbers, times and hashes after the last
// stored entry. Each store reads that last entry and writes the result
// under its own serialisation (advisory lock, IMMEDIATE transaction).
package auditlink

import (
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
