package store

import (
	"context"
	"fmt"
	"time"

	"jobcast/live"
)

// OrgApplicationFilter selects an org's applications; zero fields do not
// filter. Results are newest first; After/Before bound created_at.
type OrgApplicationFilter struct {
	JobID  live.JobID
	RoomID live.RoomID
	Status live.AppStatus
	After  time.Time
	Before time.Time
	Limit  int
	Offset int
}

func (f OrgApplicationFilter) where(org live.OrgID) (string, []any) {
	w := " WHERE a.org_id = ?"
	args := []any{org}
	if f.JobID != "" {
		w, args = w+" AND a.job_id = ?", append(args, f.JobID)
	}
	if f.RoomID != "" {
		w, args = w+" AND a.room_id = ?", append(args, f.RoomID)
	}
	if f.Status != "" {
		w, args = w+" AND a.status = ?", append(args, f.Status)
	}
	if !f.After.IsZero() {
		w, args = w+" AND a.created_at >= ?", append(args, ts(f.After))
	}
	if !f.Before.IsZero() {
		w, args = w+" AND a.created_at < ?", append(args, ts(f.Before))
	}
	return w, args
}

// OrgApplications lists an org's applications (the org is in the query:
// nothing of another org can come back), newest first, f.Limit from
// f.Offset, and whether more follow.
func (db *DB) OrgApplications(ctx context.Context, org live.OrgID, f OrgApplicationFilter) ([]live.Application, bool, error) {
	w, args := f.where(org)
	limit := pageLimit(f.Limit)
	rows, err := db.r().query(ctx, "SELECT "+applyCols+applyFrom+w+" ORDER BY a.id DESC LIMIT ? OFFSET ?", append(args, limit+1, max(f.Offset, 0))...)
	if err != nil {
		return nil, false, fmt.Errorf("store: listing applications: %w", err)
	}
	defer rows.Close()
	out := []live.Application{}
	for rows.Next() {
		r, err := scanApplyRow(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, r.app)
	}
	if err := rows.Err(); err != nil {
		return nil, false, mapErr(err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// EachOrgApplication calls fn for every application of org matching f
// (Limit and Offset ignored), oldest first, streaming from the database (for CSV
// export). It stops at fn's first error.
func (db *DB) EachOrgApplication(ctx context.Context, org live.OrgID, f OrgApplicationFilter, fn func(live.Application) error) error {
	w, args := f.where(org)
	rows, err := db.r().query(ctx, "SELECT "+applyCols+applyFrom+w+" ORDER BY a.id", args...)
	if err != nil {
		return fmt.Errorf("store: exporting applications: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanApplyRow(rows)
		if err != nil {
			return err
		}
		if err := fn(r.app); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}

// UpdateApplication changes an application of org in one transaction:
// change gets the current application and returns the new one (or an
// error, which aborts). Only status and notes are written.
func (db *DB) UpdateApplication(ctx context.Context, org live.OrgID, id live.ApplicationID,
	change func(live.Application) (live.Application, error)) (live.Application, error) {
	var out live.Application
	err := db.tx(ctx, func(x q) error {
		r, err := scanApplyRow(x.row(ctx, "SELECT "+applyCols+applyFrom+" WHERE a.id = ? AND a.org_id = ?", id, org))
		if err != nil {
			return one(err, "application")
		}
		next, err := change(r.app)
		if err != nil {
			return err
		}
		next.UpdatedAt = db.nowTime()
		if _, err := x.exec(ctx, "UPDATE applications SET status = ?, notes = ?, updated_at = ? WHERE id = ? AND org_id = ?",
			next.Status, next.Notes, ts(next.UpdatedAt), id, org); err != nil {
			return fmt.Errorf("store: updating application: %w", err)
		}
		out = next
		return nil
	})
	return out, err
}

// ApplicationBySeekerJob returns the seeker's application to job, if any.
func (db *DB) ApplicationBySeekerJob(ctx context.Context, seeker live.UserID, job live.JobID) (live.Application, error) {
	r, err := scanApplyRow(db.r().row(ctx, "SELECT "+applyCols+applyFrom+" WHERE a.job_id = ? AND a.seeker_id = ?", job, seeker))
	return r.app, one(err, "application")
}
