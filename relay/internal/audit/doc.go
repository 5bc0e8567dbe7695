// Package audit keeps the relay's tamper-evident audit log: one entry per
// stored event and per membership or allowlist change, appended to a SHA-256
// hash chain in the database.
//
// # Flow
//
// Callers hand entries to Log.Record, which puts them on a bounded queue
// (1000 by default). One writer goroutine (Log.Run) takes whatever is already
// queued, up to MaxBatch entries, and appends the batch with a single
// store.Audit.AppendAudit call. It does not wait for a batch to fill: an
// entry that arrives at an idle writer is written at once, so latency stays
// low when traffic is light and batches grow by themselves under load.
//
// # Hash chain
//
// Each entry's Hash is Link(prev, entry) = SHA-256(prev || content), where
// prev is the previous entry's Hash (empty for the first entry) and content
// is the explicit, length-prefixed encoding described at Link. The store
// computes the links inside its own serialised transaction (on PostgreSQL a
// transaction-scoped advisory lock, taken before the last hash is read), so
// several relay processes writing to one database still extend one
// unbroken chain. Verify
// walks the chain and reports the first broken link. A hash chain cannot by
// itself detect that the newest entries were cut off; operators who need
// that should record the head hash elsewhere from time to time.
//
// # When the queue is full
//
// The audit log must never lose an entry silently, and a slow database must
// slow the relay down rather than let it run ahead of its audit trail. So a
// full queue makes Record wait (backpressure on the ingest path, as the Rust
// relay did) for up to Options.EnqueueWait (5 s by default) or until the
// caller's context ends. If the queue is still full then, Record gives up so
// that a stuck database cannot wedge every connection forever: it counts
// Observer.SendFailed (buzz_audit_send_errors_total), writes the whole entry
// to the log at ERROR level with all its identifying fields (actor, action,
// event id, kind, channel, detail, time) so it can be reconstructed, and
// returns ErrQueueFull. The same happens to entries offered after Close.
//
// # Write failures
//
// A failed AppendAudit is counted (Observer.WriteFailed, i.e.
// buzz_audit_log_errors_total), logged, and retried with capped exponential
// backoff for as long as the writer runs: entries are not dropped while the
// process lives, and the queue filling up behind a failing database turns
// into the backpressure described above. A write whose commit succeeded but
// whose acknowledgement was lost (a timeout during COMMIT, a reset
// connection) is retried too, but idempotently: the retry carries the Seq
// and Hash the first attempt gave the batch's first entry, and the store,
// under its serialisation, finds that row already holding that hash and
// reports success without inserting. So a database failure neither loses
// nor duplicates entries. Only when Run's
// context is cancelled are the entries still queued given up, each logged at
// ERROR level.
package audit
