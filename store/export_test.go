package store

import "context"

// TamperAuditForTest tries to rewrite the audit log (the database must refuse).
func (db *DB) TamperAuditForTest(ctx context.Context) error {
	_, err := db.w().exec(ctx, "UPDATE audit_log SET action = 'x'")
	return err
}

// SetApplicantShardsForTest sets how many counter rows per job commit
// batches spread over (1: every batch adds to the same row per job).
func (db *DB) SetApplicantShardsForTest(n int) { db.shards = n }

// ApplyRetriesForTest returns how many commit batches were re-run after a
// deadlock or serialization failure.
func (db *DB) ApplyRetriesForTest() int64 { return db.applyRetries.Load() }

// ExecForTest runs one statement on the write side.
func (db *DB) ExecForTest(ctx context.Context, query string, args ...any) error {
	_, err := db.w().exec(ctx, query, args...)
	return err
}
