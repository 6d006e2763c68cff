package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"jobcast/live"
)

// Advisor and recommendation migrations use versions from 2001 up so that
// they never collide with the core schema (1, 2, …) or moderation (1001…).
func init() {
	migrations = append(migrations, migration{Version: 2001, Name: "advisor: visits, help requests, direct messages, follow-ups", SQL: `
CREATE TABLE room_visits (
	room_id       TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	seeker        BOOLEAN NOT NULL DEFAULT TRUE,
	first_at      BIGINT NOT NULL,
	last_at       BIGINT NOT NULL,
	pushes        INTEGER NOT NULL DEFAULT 0,
	max_recs      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_visits_last ON room_visits (room_id, last_at);

CREATE TABLE help_requests (
	room_id       TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seeker_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	note          TEXT NOT NULL DEFAULT '',
	share_contact BOOLEAN NOT NULL DEFAULT FALSE,
	asks          INTEGER NOT NULL DEFAULT 1,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL,
	PRIMARY KEY (room_id, seeker_id)
);

CREATE TABLE direct_messages (
	id         TEXT PRIMARY KEY,
	room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seeker_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	advisor_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	from_id    TEXT NOT NULL,
	text       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX direct_messages_thread ON direct_messages (room_id, seeker_id, advisor_id, created_at);

CREATE TABLE followups (
	id         TEXT PRIMARY KEY,
	room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seeker_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	advisor_id TEXT REFERENCES users (id) ON DELETE SET NULL,
	outcome    TEXT NOT NULL CHECK (outcome IN ('contacted', 'referred', 'hired', 'needs_training')),
	job_id     TEXT REFERENCES jobs (id) ON DELETE SET NULL,
	note       TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);
CREATE INDEX followups_room ON followups (room_id, seeker_id, created_at)`})
}

// RecordVisit notes that user entered room now: the first visit creates
// the row, later ones move last_at. seeker says whether the user came as a
// job seeker (not staff or exhibitor) — the report counts seekers apart.
func (db *DB) RecordVisit(ctx context.Context, room live.RoomID, user live.UserID, seeker bool) error {
	now := ts(db.nowTime())
	_, err := db.w().exec(ctx, `INSERT INTO room_visits (room_id, user_id, seeker, first_at, last_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (room_id, user_id) DO UPDATE SET last_at = excluded.last_at, seeker = excluded.seeker`,
		room, user, seeker, now, now)
	if err != nil {
		return fmt.Errorf("store: recording visit: %w", mapErr(err))
	}
	return nil
}

// RecordRecommendations counts one push of n recommendations to user in
// room (creating the visit if it is missing) and keeps the largest n.
func (db *DB) RecordRecommendations(ctx context.Context, room live.RoomID, user live.UserID, n int) error {
	now := ts(db.nowTime())
	_, err := db.w().exec(ctx, `INSERT INTO room_visits (room_id, user_id, seeker, first_at, last_at, pushes, max_recs) VALUES (?, ?, TRUE, ?, ?, 1, ?)
		ON CONFLICT (room_id, user_id) DO UPDATE SET pushes = room_visits.pushes + 1,
		max_recs = CASE WHEN room_visits.max_recs > excluded.max_recs THEN room_visits.max_recs ELSE excluded.max_recs END`,
		room, user, now, now, n)
	if err != nil {
		return fmt.Errorf("store: recording recommendations: %w", mapErr(err))
	}
	return nil
}

// Visited reports whether user has visited room.
func (db *DB) Visited(ctx context.Context, room live.RoomID, user live.UserID) (bool, error) {
	var n int
	err := db.r().row(ctx, "SELECT COUNT(*) FROM room_visits WHERE room_id = ? AND user_id = ?", room, user).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: reading visits: %w", err)
	}
	return n > 0, nil
}

// RecentSeekers lists the seekers who were in room at or after since (at
// most limit, most recent first).
func (db *DB) RecentSeekers(ctx context.Context, room live.RoomID, since time.Time, limit int) ([]live.UserID, error) {
	rows, err := db.r().query(ctx, `SELECT user_id FROM room_visits WHERE room_id = ? AND seeker AND last_at >= ?
		ORDER BY last_at DESC LIMIT ?`, room, ts(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: reading recent visitors: %w", err)
	}
	defer rows.Close()
	var out []live.UserID
	for rows.Next() {
		var u live.UserID
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// ShelvedJob is an open job on the shelf of a room.
type ShelvedJob struct {
	Job    live.Job
	RoomID live.RoomID
}

// OpenShelvedJobs returns the open jobs on the shelf of room and on the
// shelves of every live or scheduled room, at most limit, room's own shelf
// first (a job on several shelves appears once per shelf).
func (db *DB) OpenShelvedJobs(ctx context.Context, room live.RoomID, limit int) ([]ShelvedJob, error) {
	rows, err := db.r().query(ctx, "SELECT "+jobCols+", s.room_id"+jobFrom+
		` JOIN room_shelf s ON s.job_id = j.id JOIN rooms r ON r.id = s.room_id
		WHERE j.status = 'open' AND (s.room_id = ? OR r.status IN ('live', 'scheduled'))
		ORDER BY CASE WHEN s.room_id = ? THEN 0 ELSE 1 END, r.starts_at, s.position LIMIT ?`, room, room, limit)
	if err != nil {
		return nil, fmt.Errorf("store: reading shelved jobs: %w", err)
	}
	defer rows.Close()
	var out []ShelvedJob
	for rows.Next() {
		var s ShelvedJob
		if err := scanJob(rows, &s.Job, &s.RoomID); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// AppliedJobs returns the jobs seeker has applied to.
func (db *DB) AppliedJobs(ctx context.Context, seeker live.UserID) (map[live.JobID]bool, error) {
	rows, err := db.r().query(ctx, "SELECT job_id FROM applications WHERE seeker_id = ?", seeker)
	if err != nil {
		return nil, fmt.Errorf("store: reading applied jobs: %w", err)
	}
	defer rows.Close()
	out := map[live.JobID]bool{}
	for rows.Next() {
		var j live.JobID
		if err := rows.Scan(&j); err != nil {
			return nil, err
		}
		out[j] = true
	}
	return out, rows.Err()
}

// HelpRequest is a seeker's "I need help" in a room. One per seeker and
// room: asking again updates the note and counts the ask.
type HelpRequest struct {
	RoomID       live.RoomID `json:"room_id"`
	SeekerID     live.UserID `json:"seeker_id"`
	Note         string      `json:"note"`
	ShareContact bool        `json:"share_contact"`
	Asks         int         `json:"asks"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

// AskHelp records or refreshes a help request and returns it.
func (db *DB) AskHelp(ctx context.Context, room live.RoomID, seeker live.UserID, note string, share bool) (HelpRequest, error) {
	now := db.nowTime()
	var h HelpRequest
	err := db.tx(ctx, func(x q) error {
		_, err := x.exec(ctx, `INSERT INTO help_requests (room_id, seeker_id, note, share_contact, asks, created_at, updated_at)
			VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (room_id, seeker_id) DO UPDATE SET note = excluded.note,
			share_contact = excluded.share_contact, asks = help_requests.asks + 1, updated_at = excluded.updated_at`,
			room, seeker, note, share, ts(now), ts(now))
		if err != nil {
			return fmt.Errorf("store: recording help request: %w", mapErr(err))
		}
		var c, u int64
		err = x.row(ctx, `SELECT note, share_contact, asks, created_at, updated_at FROM help_requests
			WHERE room_id = ? AND seeker_id = ?`, room, seeker).Scan(&h.Note, &h.ShareContact, &h.Asks, &c, &u)
		h.RoomID, h.SeekerID, h.CreatedAt, h.UpdatedAt = room, seeker, fromTS(c), fromTS(u)
		return one(err, "help request")
	})
	return h, err
}

// DirectMessage is one private message between a room's advisor and a
// seeker. Only those two may read it.
type DirectMessage struct {
	ID        string      `json:"id"`
	RoomID    live.RoomID `json:"room_id"`
	SeekerID  live.UserID `json:"seeker_id"`
	AdvisorID live.UserID `json:"advisor_id"`
	FromID    live.UserID `json:"from_id"`
	Text      string      `json:"text"`
	CreatedAt time.Time   `json:"created_at"`
}

// AddDirectMessage stores m (CreatedAt is set to now) and returns it.
func (db *DB) AddDirectMessage(ctx context.Context, m DirectMessage) (DirectMessage, error) {
	m.CreatedAt = db.nowTime()
	_, err := db.w().exec(ctx, `INSERT INTO direct_messages (id, room_id, seeker_id, advisor_id, from_id, text, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, m.ID, m.RoomID, m.SeekerID, m.AdvisorID, m.FromID, m.Text, ts(m.CreatedAt))
	if err != nil {
		return m, fmt.Errorf("store: storing direct message: %w", mapErr(err))
	}
	return m, nil
}

// DirectThread returns the messages between seeker and advisor in room,
// oldest first, at most limit after skipping offset, and whether more follow.
func (db *DB) DirectThread(ctx context.Context, room live.RoomID, seeker, advisor live.UserID, limit, offset int) ([]DirectMessage, bool, error) {
	rows, err := db.r().query(ctx, `SELECT id, from_id, text, created_at FROM direct_messages
		WHERE room_id = ? AND seeker_id = ? AND advisor_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?`,
		room, seeker, advisor, limit+1, offset)
	if err != nil {
		return nil, false, fmt.Errorf("store: reading direct messages: %w", err)
	}
	return scanPage(rows, limit, func(rows *sql.Rows, m *DirectMessage) error {
		m.RoomID, m.SeekerID, m.AdvisorID = room, seeker, advisor
		var at int64
		err := rows.Scan(&m.ID, &m.FromID, &m.Text, &at)
		m.CreatedAt = fromTS(at)
		return err
	})
}

// Follow-up outcomes.
const (
	OutcomeContacted     = "contacted"
	OutcomeReferred      = "referred"
	OutcomeHired         = "hired"
	OutcomeNeedsTraining = "needs_training"
)

// Outcomes lists the follow-up outcomes in report order.
var Outcomes = []string{OutcomeContacted, OutcomeReferred, OutcomeHired, OutcomeNeedsTraining}

// FollowUp is an advisor's note and outcome for one seeker of a room.
type FollowUp struct {
	ID        string      `json:"id"`
	RoomID    live.RoomID `json:"room_id"`
	SeekerID  live.UserID `json:"seeker_id"`
	AdvisorID live.UserID `json:"advisor_id,omitempty"`
	Outcome   string      `json:"outcome"`
	JobID     live.JobID  `json:"job_id,omitempty"`
	Note      string      `json:"note"`
	CreatedAt time.Time   `json:"created_at"`
}

// AddFollowUp stores f (CreatedAt is set to now) with its audit entry in
// one transaction. live.ErrNotFound if the job or seeker does not exist.
func (db *DB) AddFollowUp(ctx context.Context, f FollowUp, audit AuditEntry) (FollowUp, error) {
	f.CreatedAt = db.nowTime()
	err := db.tx(ctx, func(x q) error {
		_, err := x.exec(ctx, `INSERT INTO followups (id, room_id, seeker_id, advisor_id, outcome, job_id, note, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.RoomID, f.SeekerID, nullStr(string(f.AdvisorID)), f.Outcome,
			nullStr(string(f.JobID)), f.Note, ts(f.CreatedAt))
		if err != nil {
			return fmt.Errorf("store: storing follow-up: %w", mapErr(err))
		}
		return appendAudit(ctx, db, x, audit)
	})
	return f, err
}

// FollowUps lists a room's follow-ups newest first (only seeker's when
// seeker is not ""), at most limit after offset, and whether more follow.
func (db *DB) FollowUps(ctx context.Context, room live.RoomID, seeker live.UserID, limit, offset int) ([]FollowUp, bool, error) {
	query := "SELECT id, seeker_id, advisor_id, outcome, job_id, note, created_at FROM followups WHERE room_id = ?"
	args := []any{room}
	if seeker != "" {
		query, args = query+" AND seeker_id = ?", append(args, seeker)
	}
	rows, err := db.r().query(ctx, query+" ORDER BY created_at DESC, id LIMIT ? OFFSET ?", append(args, limit+1, offset)...)
	if err != nil {
		return nil, false, fmt.Errorf("store: reading follow-ups: %w", err)
	}
	return scanPage(rows, limit, func(rows *sql.Rows, f *FollowUp) error {
		var adv, job sql.NullString
		var at int64
		err := rows.Scan(&f.ID, &f.SeekerID, &adv, &f.Outcome, &job, &f.Note, &at)
		f.RoomID, f.AdvisorID, f.JobID, f.CreatedAt = room, live.UserID(adv.String), live.JobID(job.String), fromTS(at)
		return err
	})
}

func init() {
	migrations = append(migrations, migration{Version: 2002, Name: "advisor: sampled peak viewers per room", SQL: `
CREATE TABLE room_peaks (
	room_id    TEXT PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
	peak       INTEGER NOT NULL,
	peak_at    BIGINT NOT NULL,
	sampled_at BIGINT NOT NULL
)`})
}

// RecordViewers records a sample of room's viewer count, keeping the
// largest (and when it was seen). Nodes may sample the same room: the
// maximum wins.
func (db *DB) RecordViewers(ctx context.Context, room live.RoomID, n int) error {
	now := ts(db.nowTime())
	_, err := db.w().exec(ctx, `INSERT INTO room_peaks (room_id, peak, peak_at, sampled_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (room_id) DO UPDATE SET sampled_at = excluded.sampled_at,
		peak_at = CASE WHEN excluded.peak > room_peaks.peak THEN excluded.peak_at ELSE room_peaks.peak_at END,
		peak = CASE WHEN excluded.peak > room_peaks.peak THEN excluded.peak ELSE room_peaks.peak END`, room, n, now, now)
	if err != nil {
		return fmt.Errorf("store: recording viewers: %w", mapErr(err))
	}
	return nil
}
