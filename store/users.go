package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"jobcast/live"
)

// NormalizeEmail is the form emails are stored and looked up in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser inserts a user with its password hash and an empty profile.
// u.Email is stored normalized. live.ErrConflict if the email is taken.
func (db *DB) CreateUser(ctx context.Context, u live.User, passwordHash string) error {
	now := ts(u.CreatedAt)
	return db.tx(ctx, func(x q) error {
		if _, err := x.exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, u.ID, NormalizeEmail(u.Email), u.Name, passwordHash, now, now); err != nil {
			return fmt.Errorf("store: creating user: %w", err)
		}
		if _, err := x.exec(ctx, `INSERT INTO profiles (user_id, full_name, updated_at) VALUES (?, ?, ?)`,
			u.ID, "", now); err != nil {
			return fmt.Errorf("store: creating profile: %w", err)
		}
		return nil
	})
}

const userCols = "u.id, u.email, u.name, u.created_at"

func scanUser(sc interface{ Scan(...any) error }, u *live.User, extra ...any) error {
	var created int64
	if err := sc.Scan(append([]any{&u.ID, &u.Email, &u.Name, &created}, extra...)...); err != nil {
		return err
	}
	u.CreatedAt = fromTS(created)
	return nil
}

// UserByEmail returns the user with email and its password hash.
func (db *DB) UserByEmail(ctx context.Context, email string) (live.User, string, error) {
	var u live.User
	var hash string
	err := scanUser(db.r().row(ctx, "SELECT "+userCols+", u.password_hash FROM users u WHERE u.email = ?",
		NormalizeEmail(email)), &u, &hash)
	return u, hash, one(err, "user")
}

// UserByID returns a user.
func (db *DB) UserByID(ctx context.Context, id live.UserID) (live.User, error) {
	var u live.User
	err := scanUser(db.r().row(ctx, "SELECT "+userCols+" FROM users u WHERE u.id = ?", id), &u)
	return u, one(err, "user")
}

// Session is a stored sign-in. Only the SHA-256 of the token is kept.
type Session struct {
	TokenHash string
	UserID    live.UserID
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSession stores a session.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	_, err := db.w().exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		s.TokenHash, s.UserID, ts(s.CreatedAt), ts(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: creating session: %w", err)
	}
	return nil
}

// SessionUser returns the user of a live session (not revoked, not expired
// at now), or live.ErrNotFound.
func (db *DB) SessionUser(ctx context.Context, tokenHash string, now time.Time) (live.User, error) {
	var u live.User
	err := scanUser(db.r().row(ctx, "SELECT "+userCols+` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?`, tokenHash, ts(now)), &u)
	return u, one(err, "session")
}

// SessionUsers is SessionUser for many tokens in one query (one round
// trip), for coalescing concurrent lookups. It returns the users of the
// live sessions by token hash; unknown, expired and revoked ones are
// absent.
func (db *DB) SessionUsers(ctx context.Context, tokenHashes []string, now time.Time) (map[string]live.User, error) {
	out := make(map[string]live.User, len(tokenHashes))
	if len(tokenHashes) == 0 {
		return out, nil
	}
	cond, args := "s.token_hash = ANY(?::text[])", []any{tokenHashes}
	if db.dialect != Postgres {
		cond = "s.token_hash IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(tokenHashes)), ", ") + ")"
		args = args[:0]
		for _, h := range tokenHashes {
			args = append(args, h)
		}
	}
	rows, err := db.r().query(ctx, "SELECT "+userCols+`, s.token_hash FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE `+cond+` AND s.revoked_at IS NULL AND s.expires_at > ?`, append(args, ts(now))...)
	if err != nil {
		return nil, fmt.Errorf("store: reading sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u live.User
		var hash string
		if err := scanUser(rows, &u, &hash); err != nil {
			return nil, fmt.Errorf("store: reading sessions: %w", err)
		}
		out[hash] = u
	}
	return out, mapErr(rows.Err())
}

// RevokeSession marks one session revoked and returns its user. A session
// already revoked or unknown gives live.ErrNotFound.
func (db *DB) RevokeSession(ctx context.Context, tokenHash string, now time.Time) (live.UserID, error) {
	var user live.UserID
	err := db.tx(ctx, func(x q) error {
		if err := x.row(ctx, "SELECT user_id FROM sessions WHERE token_hash = ? AND revoked_at IS NULL", tokenHash).Scan(&user); err != nil {
			return one(err, "session")
		}
		_, err := x.exec(ctx, "UPDATE sessions SET revoked_at = ? WHERE token_hash = ?", ts(now), tokenHash)
		return err
	})
	return user, err
}

// RevokeUserSessions revokes every live session of user (sign out
// everywhere) and returns how many were revoked.
func (db *DB) RevokeUserSessions(ctx context.Context, user live.UserID, now time.Time) (int64, error) {
	res, err := db.w().exec(ctx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", ts(now), user)
	if err != nil {
		return 0, fmt.Errorf("store: revoking sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteStaleSessions removes sessions that expired or were revoked before
// cutoff, and returns how many.
func (db *DB) DeleteStaleSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.w().exec(ctx, "DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?", ts(cutoff), ts(cutoff))
	if err != nil {
		return 0, fmt.Errorf("store: deleting stale sessions: %w", err)
	}
	return res.RowsAffected()
}

// Profile returns a user's profile (empty fields if never filled in).
func (db *DB) Profile(ctx context.Context, user live.UserID) (live.Profile, error) {
	return profileQ(ctx, db.r(), user)
}

func profileQ(ctx context.Context, x q, user live.UserID) (live.Profile, error) {
	var p live.Profile
	var skills string
	var updated int64
	err := x.row(ctx, `SELECT full_name, phone, city, skills, summary, accessibility_needs, updated_at
		FROM profiles WHERE user_id = ?`, user).Scan(&p.FullName, &p.Phone, &p.City, &skills, &p.Summary, &p.AccessibilityNeeds, &updated)
	if err != nil {
		return p, one(err, "profile")
	}
	p.Skills = decodeList(skills)
	p.UpdatedAt = fromTS(updated)
	return p, nil
}

// PutProfile replaces a user's profile (p is stored as given; normalize and
// validate it first). UpdatedAt is set to now.
func (db *DB) PutProfile(ctx context.Context, user live.UserID, p live.Profile) (live.Profile, error) {
	p.UpdatedAt = db.nowTime()
	if p.Skills == nil {
		p.Skills = []string{}
	}
	res, err := db.w().exec(ctx, `UPDATE profiles SET full_name = ?, phone = ?, city = ?, skills = ?, summary = ?,
		accessibility_needs = ?, updated_at = ? WHERE user_id = ?`,
		p.FullName, p.Phone, p.City, encodeList(p.Skills), p.Summary, p.AccessibilityNeeds, ts(p.UpdatedAt), user)
	if err != nil {
		return p, fmt.Errorf("store: saving profile: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return p, fmt.Errorf("profile: %w", live.ErrNotFound)
	}
	return p, nil
}

func encodeList(xs []string) string {
	if xs == nil {
		xs = []string{}
	}
	b, _ := json.Marshal(xs)
	return string(b)
}

func decodeList(s string) []string {
	out := []string{}
	_ = json.Unmarshal([]byte(s), &out)
	if out == nil {
		out = []string{}
	}
	return out
}
