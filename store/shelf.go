package store

import (
	"context"
	"fmt"

	"jobcast/live"
)

// MaxShelf is the most jobs one room's shelf holds (a fair of 29 employers
// shows thousands of jobs overall, but a shelf is what is presented live).
const MaxShelf = 500

// AddToShelf puts a job at the end of a room's shelf. live.ErrConflict if it
// is there already; a live InvalidState error when the shelf is full.
func (db *DB) AddToShelf(ctx context.Context, room live.RoomID, job live.JobID, byOrg live.OrgID) error {
	return db.tx(ctx, func(x q) error {
		var n, pos int
		if err := x.row(ctx, "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM room_shelf WHERE room_id = ?", room).Scan(&n, &pos); err != nil {
			return fmt.Errorf("store: reading shelf: %w", mapErr(err))
		}
		if n >= MaxShelf {
			return live.InvalidState("shelf_full", fmt.Sprintf("a shelf holds at most %d jobs", MaxShelf))
		}
		_, err := x.exec(ctx, "INSERT INTO room_shelf (room_id, job_id, position, added_by_org, added_at) VALUES (?, ?, ?, ?, ?)",
			room, job, pos+1, nullStr(string(byOrg)), ts(db.nowTime()))
		if err != nil {
			return fmt.Errorf("store: shelving job: %w", err)
		}
		return nil
	})
}

// RemoveFromShelf takes a job off a room's shelf and unpins it if it was
// pinned, in one transaction. It reports whether the job was pinned.
// live.ErrNotFound if it was not on the shelf.
func (db *DB) RemoveFromShelf(ctx context.Context, room live.RoomID, job live.JobID) (wasPinned bool, err error) {
	err = db.tx(ctx, func(x q) error {
		res, err := x.exec(ctx, "DELETE FROM room_shelf WHERE room_id = ? AND job_id = ?", room, job)
		if err != nil {
			return fmt.Errorf("store: unshelving job: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("shelf entry: %w", live.ErrNotFound)
		}
		res, err = x.exec(ctx, "UPDATE rooms SET pinned_job_id = NULL, pinned_by_org = NULL, updated_at = ? WHERE id = ? AND pinned_job_id = ?",
			ts(db.nowTime()), room, job)
		if err != nil {
			return fmt.Errorf("store: unpinning job: %w", err)
		}
		n, _ := res.RowsAffected()
		wasPinned = n > 0
		return nil
	})
	return wasPinned, err
}

// OnShelf returns the job if it is on the room's shelf; live.ErrNotFound
// otherwise.
func (db *DB) OnShelf(ctx context.Context, room live.RoomID, job live.JobID) (live.Job, error) {
	var j live.Job
	err := scanJob(db.r().row(ctx, "SELECT "+jobCols+jobFrom+
		" JOIN room_shelf s ON s.job_id = j.id WHERE s.room_id = ? AND j.id = ?", room, job), &j)
	return j, one(err, "shelf entry")
}

// Pin pins a job that is on the room's shelf (checked in the same
// statement). live.ErrNotFound if the job is not on the shelf.
func (db *DB) Pin(ctx context.Context, room live.RoomID, job live.JobID, byOrg live.OrgID) error {
	res, err := db.w().exec(ctx, `UPDATE rooms SET pinned_job_id = ?, pinned_by_org = ?, updated_at = ?
		WHERE id = ? AND EXISTS (SELECT 1 FROM room_shelf s WHERE s.room_id = ? AND s.job_id = ?)`,
		job, nullStr(string(byOrg)), ts(db.nowTime()), room, room, job)
	if err != nil {
		return fmt.Errorf("store: pinning job: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("shelf entry: %w", live.ErrNotFound)
	}
	return nil
}

// Unpin clears the room's pinned job and returns the job that was pinned
// ("" if none).
func (db *DB) Unpin(ctx context.Context, room live.RoomID) (live.JobID, error) {
	var prev live.JobID
	err := db.tx(ctx, func(x q) error {
		var p *string
		if err := x.row(ctx, "SELECT pinned_job_id FROM rooms WHERE id = ?", room).Scan(&p); err != nil {
			return one(err, "room")
		}
		if p == nil {
			return nil
		}
		prev = live.JobID(*p)
		_, err := x.exec(ctx, "UPDATE rooms SET pinned_job_id = NULL, pinned_by_org = NULL, updated_at = ? WHERE id = ?", ts(db.nowTime()), room)
		if err != nil {
			return fmt.Errorf("store: unpinning: %w", err)
		}
		return nil
	})
	return prev, err
}
