package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"jobcast/live"
)

const appCols = `a.id, a.job_id, j.title, a.org_id, a.room_id, a.seeker_id, a.status, a.note, a.notes, a.profile,
	a.created_at, a.updated_at`

func scanApplication(sc interface{ Scan(...any) error }, a *live.Application) error {
	var room sql.NullString
	var profile string
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.JobID, &a.JobTitle, &a.OrgID, &room, &a.SeekerID, &a.Status, &a.Note, &a.Notes,
		&profile, &created, &updated); err != nil {
		return err
	}
	a.RoomID = live.RoomID(room.String)
	if err := json.Unmarshal([]byte(profile), &a.Profile); err != nil {
		return fmt.Errorf("store: application profile snapshot: %w", err)
	}
	if a.Profile.Skills == nil {
		a.Profile.Skills = []string{}
	}
	a.CreatedAt, a.UpdatedAt = fromTS(created), fromTS(updated)
	return nil
}

// SeekerApplications lists the applications a seeker made, newest first.
func (db *DB) SeekerApplications(ctx context.Context, seeker live.UserID, limit, offset int) ([]live.Application, bool, error) {
	limit = pageLimit(limit)
	rows, err := db.r().query(ctx, "SELECT "+appCols+` FROM applications a JOIN jobs j ON j.id = a.job_id
		WHERE a.seeker_id = ? ORDER BY a.id DESC LIMIT ? OFFSET ?`, seeker, limit+1, max(offset, 0))
	if err != nil {
		return nil, false, fmt.Errorf("store: listing applications: %w", err)
	}
	return scanPage(rows, limit, func(rows *sql.Rows, a *live.Application) error { return scanApplication(rows, a) })
}
