package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"jobcast/live"
)

// SeekerFilter narrows the advisor's seeker list.
type SeekerFilter string

// Seeker filters.
const (
	SeekersAll           SeekerFilter = ""
	SeekersAskedHelp     SeekerFilter = "help"
	SeekersNoApplication SeekerFilter = "no_application"
)

// RoomSeeker is what a room's advisor sees of one seeker who visited the
// room: the name, the phone only if the seeker chose to share it with the
// help request, whether they asked for help, and their applications in this
// room only.
type RoomSeeker struct {
	UserID       live.UserID       `json:"user_id"`
	Name         string            `json:"name"`
	Contact      string            `json:"contact,omitempty"`
	AskedHelp    bool              `json:"asked_help"`
	HelpNote     string            `json:"help_note,omitempty"`
	HelpAt       *time.Time        `json:"help_at,omitempty"`
	FirstSeen    time.Time         `json:"first_seen"`
	LastSeen     time.Time         `json:"last_seen"`
	Applications []RoomApplication `json:"applications"`
}

// RoomApplication is one application as an advisor sees it: no profile
// snapshot, no employer notes.
type RoomApplication struct {
	ID        live.ApplicationID `json:"id"`
	JobID     live.JobID         `json:"job_id"`
	JobTitle  string             `json:"job_title"`
	OrgName   string             `json:"org_name"`
	Status    live.AppStatus     `json:"status"`
	CreatedAt time.Time          `json:"created_at"`
}

// RoomSeekers lists the seekers who visited room, those who asked for help
// first, then the most recently seen; at most limit after offset, and
// whether more follow. only, when not "", restricts the list to one seeker.
func (db *DB) RoomSeekers(ctx context.Context, room live.RoomID, f SeekerFilter, only live.UserID, limit, offset int) ([]RoomSeeker, bool, error) {
	query := `SELECT v.user_id, u.name, COALESCE(p.full_name, ''), COALESCE(p.phone, ''), h.note, h.share_contact, h.updated_at,
		v.first_at, v.last_at
		FROM room_visits v JOIN users u ON u.id = v.user_id
		LEFT JOIN profiles p ON p.user_id = v.user_id
		LEFT JOIN help_requests h ON h.room_id = v.room_id AND h.seeker_id = v.user_id
		WHERE v.room_id = ? AND v.seeker`
	args := []any{room}
	switch f {
	case SeekersAskedHelp:
		query += " AND h.seeker_id IS NOT NULL"
	case SeekersNoApplication:
		query += " AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.room_id = v.room_id AND a.seeker_id = v.user_id)"
	}
	if only != "" {
		query, args = query+" AND v.user_id = ?", append(args, only)
	}
	query += " ORDER BY CASE WHEN h.seeker_id IS NULL THEN 1 ELSE 0 END, v.last_at DESC, v.user_id LIMIT ? OFFSET ?"
	rows, err := db.r().query(ctx, query, append(args, limit+1, offset)...)
	if err != nil {
		return nil, false, fmt.Errorf("store: reading room seekers: %w", err)
	}
	out := []RoomSeeker{}
	for rows.Next() {
		var s RoomSeeker
		var account, full, phone string
		var note sql.NullString
		var share sql.NullBool
		var helpAt sql.NullInt64
		var first, last int64
		if err := rows.Scan(&s.UserID, &account, &full, &phone, &note, &share, &helpAt, &first, &last); err != nil {
			rows.Close()
			return nil, false, err
		}
		s.Name = full
		if s.Name == "" {
			s.Name = account
		}
		s.AskedHelp, s.HelpNote, s.HelpAt = helpAt.Valid, note.String, fromNullTS(helpAt)
		if share.Bool {
			s.Contact = phone
		}
		s.FirstSeen, s.LastSeen, s.Applications = fromTS(first), fromTS(last), []RoomApplication{}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	if len(out) == 0 {
		return out, more, nil
	}
	idx := map[live.UserID]int{}
	ph := make([]string, len(out))
	args = []any{room}
	for i, s := range out {
		idx[s.UserID], ph[i] = i, "?"
		args = append(args, s.UserID)
	}
	arows, err := db.r().query(ctx, `SELECT a.seeker_id, a.id, a.job_id, j.title, o.name, a.status, a.created_at
		FROM applications a JOIN jobs j ON j.id = a.job_id JOIN orgs o ON o.id = j.org_id
		WHERE a.room_id = ? AND a.seeker_id IN (`+strings.Join(ph, ", ")+`) ORDER BY a.created_at, a.id`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: reading room applications: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var seeker live.UserID
		var a RoomApplication
		var at int64
		if err := arows.Scan(&seeker, &a.ID, &a.JobID, &a.JobTitle, &a.OrgName, &a.Status, &at); err != nil {
			return nil, false, err
		}
		a.CreatedAt = fromTS(at)
		i := idx[seeker]
		out[i].Applications = append(out[i].Applications, a)
	}
	return out, more, arows.Err()
}

// RoomReportCounts are the figures of a room's report. Counts only: no
// personal data.
type RoomReportCounts struct {
	Employers            int
	ShelfJobs            int
	PeakViewers          *int // largest sampled viewer count; nil if never sampled
	UniqueVisitors       int  // signed-in users who opened the room's channel
	Seekers              int  // of them, those who came as job seekers
	SeekersRecommended   int  // seekers who were sent recommendations
	SeekersWith3         int  // seekers who were sent at least three
	RecommendationPushes int
	Applications         int
	PerJob               []JobApplications
	HelpRequests         int // seekers who asked for help
	HelpAsks             int // asks, counting repeats
	FollowUps            map[string]int
	SeekersFollowedUp    int
	DirectMessages       int
}

// JobApplications is the number of applications to one job from a room.
type JobApplications struct {
	JobID        live.JobID `json:"job_id"`
	Title        string     `json:"title"`
	OrgID        live.OrgID `json:"org_id"`
	OrgName      string     `json:"org_name"`
	Applications int        `json:"applications"`
}

// RoomReport counts a room's figures. Jobs on the shelf with no
// applications appear in PerJob with 0; so do jobs applied to from this
// room that have left the shelf since.
func (db *DB) RoomReport(ctx context.Context, room live.RoomID) (RoomReportCounts, error) {
	r := RoomReportCounts{FollowUps: map[string]int{}}
	x := db.r()
	err := x.row(ctx, `SELECT COUNT(*) FROM (SELECT org_id FROM room_exhibitors WHERE room_id = ?
		UNION SELECT j.org_id FROM room_shelf s JOIN jobs j ON j.id = s.job_id WHERE s.room_id = ?) t`, room, room).Scan(&r.Employers)
	if err != nil {
		return r, fmt.Errorf("store: counting employers: %w", err)
	}
	var peak sql.NullInt64
	if err := x.row(ctx, "SELECT MAX(peak) FROM room_peaks WHERE room_id = ?", room).Scan(&peak); err != nil {
		return r, fmt.Errorf("store: reading peak viewers: %w", err)
	}
	if peak.Valid {
		n := int(peak.Int64)
		r.PeakViewers = &n
	}
	if err := x.row(ctx, "SELECT COUNT(*) FROM room_shelf WHERE room_id = ?", room).Scan(&r.ShelfJobs); err != nil {
		return r, fmt.Errorf("store: counting shelf: %w", err)
	}
	err = x.row(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN seeker THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN seeker AND pushes > 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN seeker AND max_recs >= 3 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(pushes), 0) FROM room_visits WHERE room_id = ?`, room).
		Scan(&r.UniqueVisitors, &r.Seekers, &r.SeekersRecommended, &r.SeekersWith3, &r.RecommendationPushes)
	if err != nil {
		return r, fmt.Errorf("store: counting visits: %w", err)
	}
	rows, err := x.query(ctx, `SELECT j.id, j.title, j.org_id, o.name, COUNT(a.id) FROM jobs j JOIN orgs o ON o.id = j.org_id
		LEFT JOIN applications a ON a.job_id = j.id AND a.room_id = ?
		WHERE j.id IN (SELECT job_id FROM room_shelf WHERE room_id = ? UNION SELECT job_id FROM applications WHERE room_id = ?)
		GROUP BY j.id, j.title, j.org_id, o.name ORDER BY COUNT(a.id) DESC, j.id`, room, room, room)
	if err != nil {
		return r, fmt.Errorf("store: counting applications: %w", err)
	}
	for rows.Next() {
		var j JobApplications
		if err := rows.Scan(&j.JobID, &j.Title, &j.OrgID, &j.OrgName, &j.Applications); err != nil {
			rows.Close()
			return r, err
		}
		r.Applications += j.Applications
		r.PerJob = append(r.PerJob, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	err = x.row(ctx, "SELECT COUNT(*), COALESCE(SUM(asks), 0) FROM help_requests WHERE room_id = ?", room).Scan(&r.HelpRequests, &r.HelpAsks)
	if err != nil {
		return r, fmt.Errorf("store: counting help requests: %w", err)
	}
	rows, err = x.query(ctx, "SELECT outcome, COUNT(*) FROM followups WHERE room_id = ? GROUP BY outcome", room)
	if err != nil {
		return r, fmt.Errorf("store: counting follow-ups: %w", err)
	}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			rows.Close()
			return r, err
		}
		r.FollowUps[o] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	if err := x.row(ctx, "SELECT COUNT(DISTINCT seeker_id) FROM followups WHERE room_id = ?", room).Scan(&r.SeekersFollowedUp); err != nil {
		return r, fmt.Errorf("store: counting follow-ups: %w", err)
	}
	if err := x.row(ctx, "SELECT COUNT(*) FROM direct_messages WHERE room_id = ?", room).Scan(&r.DirectMessages); err != nil {
		return r, fmt.Errorf("store: counting direct messages: %w", err)
	}
	return r, nil
}
