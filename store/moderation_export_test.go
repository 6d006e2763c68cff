package store

import "context"

// BreakAuditForTest makes every later insert into the audit log fail, so
// tests can check that a moderation change and its audit row commit or
// roll back together.
func (db *DB) BreakAuditForTest(ctx context.Context) error {
	stmts := []string{`CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit broken for the test'); END`}
	if db.dialect == Postgres {
		stmts = []string{
			`CREATE FUNCTION audit_log_broken() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit broken for the test'; END $$`,
			`CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_broken()`,
		}
	}
	for _, s := range stmts {
		if _, err := db.w().exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
