package store

import "context"

// TamperAuditForTest tries to rewrite the audit log (the database must refuse).
func (db *DB) TamperAuditForTest(ctx context.Context) error {
	_, err := db.w().exec(ctx, "UPDATE audit_log SET action = 'x'")
	return err
}
