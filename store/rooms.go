package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"jobcast/live"
)

const roomCols = `r.id, r.org_id, o.name, r.title, r.description, r.status, r.starts_at, r.started_at, r.ended_at,
	r.slow_mode_seconds, r.chat_mode, r.blocked_words, r.mask_pii, r.hold_scams, r.pinned_job_id, r.created_at`

const roomFrom = " FROM rooms r JOIN orgs o ON o.id = r.org_id"

func scanRoom(sc interface{ Scan(...any) error }, r *live.Room) error {
	var starts, created int64
	var started, ended sql.NullInt64
	var words string
	var pinned sql.NullString
	if err := sc.Scan(&r.ID, &r.OrgID, &r.OrgName, &r.Title, &r.Description, &r.Status, &starts, &started, &ended,
		&r.Settings.SlowModeSeconds, &r.Settings.Chat, &words, &r.Settings.MaskPII, &r.Settings.HoldScams, &pinned, &created); err != nil {
		return err
	}
	r.StartsAt, r.CreatedAt = fromTS(starts), fromTS(created)
	r.StartedAt, r.EndedAt = fromNullTS(started), fromNullTS(ended)
	r.Settings.BlockedWords = decodeList(words)
	r.PinnedJobID = live.JobID(pinned.String)
	return nil
}

// CreateRoom inserts a room (validated by the caller) created by user.
func (db *DB) CreateRoom(ctx context.Context, r live.Room, createdBy live.UserID) error {
	s := r.Settings
	_, err := db.w().exec(ctx, `INSERT INTO rooms (id, org_id, title, description, status, starts_at, slow_mode_seconds,
		chat_mode, blocked_words, mask_pii, hold_scams, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.OrgID, r.Title, r.Description, r.Status, ts(r.StartsAt), s.SlowModeSeconds, s.Chat,
		encodeList(s.BlockedWords), s.MaskPII, s.HoldScams, nullStr(string(createdBy)), ts(r.CreatedAt), ts(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("store: creating room: %w", err)
	}
	return nil
}

// Room returns a room with its host org's name.
func (db *DB) Room(ctx context.Context, id live.RoomID) (live.Room, error) {
	var r live.Room
	err := scanRoom(db.r().row(ctx, "SELECT "+roomCols+roomFrom+" WHERE r.id = ?", id), &r)
	return r, one(err, "room")
}

// RoomFilter selects rooms; zero fields do not filter.
type RoomFilter struct {
	Status live.RoomStatus
	OrgID  live.OrgID
	Limit  int
	Offset int
}

// Rooms lists rooms: live and scheduled ones soonest first, ended ones most
// recent first. It returns up to f.Limit rooms and whether more follow.
func (db *DB) Rooms(ctx context.Context, f RoomFilter) ([]live.Room, bool, error) {
	query := "SELECT " + roomCols + roomFrom + " WHERE 1 = 1"
	var args []any
	if f.Status != "" {
		query, args = query+" AND r.status = ?", append(args, f.Status)
	}
	if f.OrgID != "" {
		query, args = query+" AND r.org_id = ?", append(args, f.OrgID)
	}
	if f.Status == live.RoomEnded {
		query += " ORDER BY r.starts_at DESC, r.id DESC"
	} else {
		query += " ORDER BY CASE r.status WHEN 'live' THEN 0 WHEN 'scheduled' THEN 1 ELSE 2 END, r.starts_at, r.id"
	}
	limit := pageLimit(f.Limit)
	query += " LIMIT ? OFFSET ?"
	args = append(args, limit+1, max(f.Offset, 0))
	rows, err := db.r().query(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: listing rooms: %w", err)
	}
	return scanPage(rows, limit, func(rows *sql.Rows, r *live.Room) error { return scanRoom(rows, r) })
}

// SetRoomStatus moves a room to status to at now if the lifecycle allows it
// (an *live.Error of KindInvalidState otherwise), setting started_at on the
// first live and ended_at on end. It returns the room after the change and
// whether the status changed.
func (db *DB) SetRoomStatus(ctx context.Context, id live.RoomID, to live.RoomStatus, now time.Time) (live.Room, bool, error) {
	var out live.Room
	var changed bool
	err := db.tx(ctx, func(x q) error {
		var cur live.Room
		if err := scanRoom(x.row(ctx, "SELECT "+roomCols+roomFrom+" WHERE r.id = ?", id), &cur); err != nil {
			return one(err, "room")
		}
		if !cur.Status.CanBecome(to) {
			return live.InvalidState("invalid_transition", "a "+string(cur.Status)+" room cannot become "+string(to))
		}
		changed = cur.Status != to
		n := ts(now)
		switch to {
		case live.RoomLive:
			if _, err := x.exec(ctx, "UPDATE rooms SET status = ?, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ?", to, n, n, id); err != nil {
				return err
			}
		case live.RoomEnded:
			if _, err := x.exec(ctx, "UPDATE rooms SET status = ?, ended_at = ?, pinned_job_id = NULL, pinned_by_org = NULL, updated_at = ? WHERE id = ?", to, n, n, id); err != nil {
				return err
			}
		}
		if err := scanRoom(x.row(ctx, "SELECT "+roomCols+roomFrom+" WHERE r.id = ?", id), &out); err != nil {
			return one(err, "room")
		}
		return nil
	})
	return out, changed, err
}

// AddExhibitor invites org into room. live.ErrConflict if already there.
func (db *DB) AddExhibitor(ctx context.Context, room live.RoomID, org live.OrgID) error {
	_, err := db.w().exec(ctx, "INSERT INTO room_exhibitors (room_id, org_id, added_at) VALUES (?, ?, ?)", room, org, ts(db.nowTime()))
	if err != nil {
		return fmt.Errorf("store: adding exhibitor: %w", err)
	}
	return nil
}

// Exhibitors lists a room's exhibitor orgs in invitation order.
func (db *DB) Exhibitors(ctx context.Context, room live.RoomID) ([]live.Org, error) {
	rows, err := db.r().query(ctx, `SELECT o.id, o.name, o.created_at FROM room_exhibitors e JOIN orgs o ON o.id = e.org_id
		WHERE e.room_id = ? ORDER BY e.added_at, o.id`, room)
	if err != nil {
		return nil, fmt.Errorf("store: listing exhibitors: %w", err)
	}
	defer rows.Close()
	out := []live.Org{}
	for rows.Next() {
		var o live.Org
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &created); err != nil {
			return nil, err
		}
		o.CreatedAt = fromTS(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// StaffRole is a user's assignment in one room.
type StaffRole string

const (
	StaffModerator StaffRole = "moderator"
	StaffAdvisor   StaffRole = "advisor"
)

// StaffMember is one assigned moderator or advisor.
type StaffMember struct {
	UserID live.UserID `json:"user_id"`
	Name   string      `json:"name"`
	Role   StaffRole   `json:"role"`
}

// AddStaff assigns user to room as role. live.ErrConflict if already so.
func (db *DB) AddStaff(ctx context.Context, room live.RoomID, user live.UserID, role StaffRole, by live.UserID) error {
	_, err := db.w().exec(ctx, "INSERT INTO room_staff (room_id, user_id, role, added_by, added_at) VALUES (?, ?, ?, ?, ?)",
		room, user, role, nullStr(string(by)), ts(db.nowTime()))
	if err != nil {
		return fmt.Errorf("store: adding staff: %w", err)
	}
	return nil
}

// RemoveStaff removes an assignment. live.ErrNotFound if there was none.
func (db *DB) RemoveStaff(ctx context.Context, room live.RoomID, user live.UserID, role StaffRole) error {
	res, err := db.w().exec(ctx, "DELETE FROM room_staff WHERE room_id = ? AND user_id = ? AND role = ?", room, user, role)
	if err != nil {
		return fmt.Errorf("store: removing staff: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("assignment: %w", live.ErrNotFound)
	}
	return nil
}

// Staff lists a room's moderators and advisors.
func (db *DB) Staff(ctx context.Context, room live.RoomID) ([]StaffMember, error) {
	rows, err := db.r().query(ctx, `SELECT s.user_id, u.name, s.role FROM room_staff s JOIN users u ON u.id = s.user_id
		WHERE s.room_id = ? ORDER BY s.role, s.added_at, s.user_id`, room)
	if err != nil {
		return nil, fmt.Errorf("store: listing staff: %w", err)
	}
	defer rows.Close()
	out := []StaffMember{}
	for rows.Next() {
		var m StaffMember
		if err := rows.Scan(&m.UserID, &m.Name, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// AccessFacts is what storage knows about one user in one room.
type AccessFacts struct {
	Host            bool
	Moderator       bool
	Advisor         bool
	Exhibitors      []live.OrgID
	Banned          bool
	MutedUntil      time.Time
	ProfileComplete bool
	MemberOf        []live.OrgID
}

// RoomAccessFacts loads user's memberships, assignments, ban and mute in
// room (whose host org is hostOrg). Reads are not in one transaction; each
// fact is current as of its own query.
func (db *DB) RoomAccessFacts(ctx context.Context, room live.RoomID, hostOrg live.OrgID, user live.UserID) (AccessFacts, error) {
	var f AccessFacts
	x := db.r()
	rows, err := x.query(ctx, `SELECT m.org_id, CASE WHEN e.org_id IS NULL THEN 0 ELSE 1 END FROM org_members m
		LEFT JOIN room_exhibitors e ON e.room_id = ? AND e.org_id = m.org_id
		WHERE m.user_id = ? ORDER BY m.org_id`, room, user)
	if err != nil {
		return f, fmt.Errorf("store: access: %w", err)
	}
	f.MemberOf = []live.OrgID{}
	for rows.Next() {
		var org live.OrgID
		var exhibitor int
		if err := rows.Scan(&org, &exhibitor); err != nil {
			rows.Close()
			return f, err
		}
		f.MemberOf = append(f.MemberOf, org)
		if org == hostOrg {
			f.Host = true
		}
		if exhibitor == 1 {
			f.Exhibitors = append(f.Exhibitors, org)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return f, err
	}
	srows, err := x.query(ctx, "SELECT role FROM room_staff WHERE room_id = ? AND user_id = ?", room, user)
	if err != nil {
		return f, fmt.Errorf("store: access: %w", err)
	}
	for srows.Next() {
		var role StaffRole
		if err := srows.Scan(&role); err != nil {
			srows.Close()
			return f, err
		}
		f.Moderator = f.Moderator || role == StaffModerator
		f.Advisor = f.Advisor || role == StaffAdvisor
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return f, err
	}
	var banned int
	if err := x.row(ctx, "SELECT COUNT(*) FROM room_bans WHERE room_id = ? AND user_id = ?", room, user).Scan(&banned); err != nil {
		return f, fmt.Errorf("store: access: %w", err)
	}
	f.Banned = banned > 0
	var until sql.NullInt64
	if err := x.row(ctx, "SELECT MAX(until_at) FROM room_mutes WHERE room_id = ? AND user_id = ?", room, user).Scan(&until); err != nil {
		return f, fmt.Errorf("store: access: %w", err)
	}
	if until.Valid {
		f.MutedUntil = fromTS(until.Int64)
	}
	p, err := profileQ(ctx, x, user)
	if err != nil && !isNotFound(err) {
		return f, err
	}
	f.ProfileComplete = err == nil && p.Complete()
	return f, nil
}

// SetStreamKey stores the hash (and a short display hint) of a room's new
// stream key, replacing the old one.
func (db *DB) SetStreamKey(ctx context.Context, room live.RoomID, hash, hint string, at time.Time) error {
	res, err := db.w().exec(ctx, "UPDATE rooms SET stream_key_hash = ?, stream_key_hint = ?, stream_key_at = ?, updated_at = ? WHERE id = ?",
		hash, hint, ts(at), ts(at), room)
	if err != nil {
		return fmt.Errorf("store: setting stream key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("room: %w", live.ErrNotFound)
	}
	return nil
}

// StreamKeyInfo is what is stored of a room's stream key.
type StreamKeyInfo struct {
	Hash      string // hex SHA-256; "" if never issued
	Hint      string
	RotatedAt *time.Time
}

// StreamKey returns the stored stream key hash and hint of a room.
func (db *DB) StreamKey(ctx context.Context, room live.RoomID) (StreamKeyInfo, error) {
	var k StreamKeyInfo
	var at sql.NullInt64
	err := db.r().row(ctx, "SELECT stream_key_hash, stream_key_hint, stream_key_at FROM rooms WHERE id = ?", room).Scan(&k.Hash, &k.Hint, &at)
	k.RotatedAt = fromNullTS(at)
	return k, one(err, "room")
}

// applicantsOf is the number of applications of job j (its counter rows).
const applicantsOf = "CAST(COALESCE((SELECT SUM(c.n) FROM job_applicants c WHERE c.job_id = j.id), 0) AS BIGINT)"

// Shelf returns the jobs on a room's shelf in order, each with its total
// number of applications (the job's applicant counter).
func (db *DB) Shelf(ctx context.Context, room live.RoomID) ([]live.JobCard, error) {
	rows, err := db.r().query(ctx, "SELECT "+jobCols+", "+applicantsOf+`
		FROM room_shelf s JOIN jobs j ON j.id = s.job_id JOIN orgs o ON o.id = j.org_id
		WHERE s.room_id = ? ORDER BY s.position, s.added_at`, room)
	if err != nil {
		return nil, fmt.Errorf("store: reading shelf: %w", err)
	}
	defer rows.Close()
	out := []live.JobCard{}
	for rows.Next() {
		var j live.Job
		var n int
		if err := scanJob(rows, &j, &n); err != nil {
			return nil, err
		}
		out = append(out, j.Card(n))
	}
	return out, rows.Err()
}

// JobCard returns one job's viewer card with its application count.
func (db *DB) JobCard(ctx context.Context, id live.JobID) (live.JobCard, error) {
	var j live.Job
	var n int
	err := scanJob(db.r().row(ctx, "SELECT "+jobCols+", "+applicantsOf+
		jobFrom+" WHERE j.id = ?", id), &j, &n)
	if err != nil {
		return live.JobCard{}, one(err, "job")
	}
	return j.Card(n), nil
}

// Ban bans user from room (idempotent: a repeat updates reason and actor).
func (db *DB) Ban(ctx context.Context, room live.RoomID, user, by live.UserID, reason string) error {
	now := ts(db.nowTime())
	_, err := db.w().exec(ctx, `INSERT INTO room_bans (room_id, user_id, by_user, reason, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (room_id, user_id) DO UPDATE SET by_user = excluded.by_user, reason = excluded.reason`,
		room, user, nullStr(string(by)), reason, now)
	if err != nil {
		return fmt.Errorf("store: banning: %w", err)
	}
	return nil
}

// Unban lifts a ban. live.ErrNotFound if user was not banned.
func (db *DB) Unban(ctx context.Context, room live.RoomID, user live.UserID) error {
	res, err := db.w().exec(ctx, "DELETE FROM room_bans WHERE room_id = ? AND user_id = ?", room, user)
	if err != nil {
		return fmt.Errorf("store: unbanning: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("ban: %w", live.ErrNotFound)
	}
	return nil
}

// Mute times user out in room until until (replacing an earlier mute).
func (db *DB) Mute(ctx context.Context, room live.RoomID, user, by live.UserID, until time.Time, reason string) error {
	_, err := db.w().exec(ctx, `INSERT INTO room_mutes (room_id, user_id, until_at, by_user, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (room_id, user_id) DO UPDATE SET until_at = excluded.until_at, by_user = excluded.by_user, reason = excluded.reason`,
		room, user, ts(until), nullStr(string(by)), reason, ts(db.nowTime()))
	if err != nil {
		return fmt.Errorf("store: muting: %w", err)
	}
	return nil
}

// Unmute lifts a mute. live.ErrNotFound if there was none.
func (db *DB) Unmute(ctx context.Context, room live.RoomID, user live.UserID) error {
	res, err := db.w().exec(ctx, "DELETE FROM room_mutes WHERE room_id = ? AND user_id = ?", room, user)
	if err != nil {
		return fmt.Errorf("store: unmuting: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("mute: %w", live.ErrNotFound)
	}
	return nil
}

// RemoveExhibitor takes org out of room. live.ErrNotFound if it was not in.
func (db *DB) RemoveExhibitor(ctx context.Context, room live.RoomID, org live.OrgID) error {
	res, err := db.w().exec(ctx, "DELETE FROM room_exhibitors WHERE room_id = ? AND org_id = ?", room, org)
	if err != nil {
		return fmt.Errorf("store: removing exhibitor: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("exhibitor: %w", live.ErrNotFound)
	}
	return nil
}
