package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"jobcast/live"
)

// AuditEntry is one line of the append-only audit log. Reason and Data must
// not hold personal data beyond ids.
type AuditEntry struct {
	ID       int64       `json:"id"`
	RoomID   live.RoomID `json:"room_id,omitempty"`
	OrgID    live.OrgID  `json:"org_id,omitempty"`
	ActorID  live.UserID `json:"actor_id,omitempty"`
	Action   string      `json:"action"`
	TargetID string      `json:"target_id,omitempty"`
	Reason   string      `json:"reason,omitempty"`
	Data     string      `json:"data,omitempty"` // JSON object
	At       time.Time   `json:"at"`
}

// AppendAudit writes an entry (At defaults to now).
func (db *DB) AppendAudit(ctx context.Context, e AuditEntry) error {
	return appendAudit(ctx, db, db.w(), e)
}

func appendAudit(ctx context.Context, db *DB, x q, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = db.nowTime()
	}
	if e.Data == "" {
		e.Data = "{}"
	}
	_, err := x.exec(ctx, `INSERT INTO audit_log (room_id, org_id, actor_id, action, target_id, reason, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, nullStr(string(e.RoomID)), nullStr(string(e.OrgID)), nullStr(string(e.ActorID)),
		e.Action, e.TargetID, e.Reason, e.Data, ts(e.At))
	if err != nil {
		return fmt.Errorf("store: writing audit log: %w", err)
	}
	return nil
}

// RoomAudit lists a room's audit entries newest first, at most limit,
// older than beforeID when beforeID > 0.
func (db *DB) RoomAudit(ctx context.Context, room live.RoomID, beforeID int64, limit int) ([]AuditEntry, error) {
	query := `SELECT id, room_id, org_id, actor_id, action, target_id, reason, data, created_at FROM audit_log WHERE room_id = ?`
	args := []any{room}
	if beforeID > 0 {
		query, args = query+" AND id < ?", append(args, beforeID)
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, pageLimit(limit))
	rows, err := db.r().query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var r, o, a sql.NullString
		var at int64
		if err := rows.Scan(&e.ID, &r, &o, &a, &e.Action, &e.TargetID, &e.Reason, &e.Data, &at); err != nil {
			return nil, err
		}
		e.RoomID, e.OrgID, e.ActorID, e.At = live.RoomID(r.String), live.OrgID(o.String), live.UserID(a.String), fromTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func isNotFound(err error) bool { return errors.Is(err, live.ErrNotFound) }
