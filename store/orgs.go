package store

import (
	"context"
	"fmt"

	"jobcast/live"
)

// CreateOrg inserts an org and makes owner its owner, in one transaction.
func (db *DB) CreateOrg(ctx context.Context, o live.Org, owner live.UserID) error {
	return db.tx(ctx, func(x q) error {
		if _, err := x.exec(ctx, "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)", o.ID, o.Name, ts(o.CreatedAt)); err != nil {
			return fmt.Errorf("store: creating org: %w", err)
		}
		if _, err := x.exec(ctx, "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
			o.ID, owner, live.OrgOwner, ts(o.CreatedAt)); err != nil {
			return fmt.Errorf("store: adding owner: %w", err)
		}
		return nil
	})
}

// Org returns an org.
func (db *DB) Org(ctx context.Context, id live.OrgID) (live.Org, error) {
	var o live.Org
	var created int64
	err := db.r().row(ctx, "SELECT id, name, created_at FROM orgs WHERE id = ?", id).Scan(&o.ID, &o.Name, &created)
	o.CreatedAt = fromTS(created)
	return o, one(err, "org")
}

// AddMember adds user to org with role. live.ErrConflict if already a
// member; live.ErrNotFound if the org or user does not exist.
func (db *DB) AddMember(ctx context.Context, org live.OrgID, user live.UserID, role live.OrgRole) error {
	_, err := db.w().exec(ctx, "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
		org, user, role, ts(db.nowTime()))
	if err != nil {
		return fmt.Errorf("store: adding member: %w", err)
	}
	return nil
}

// MemberRole returns user's role in org, or live.ErrNotFound if not a member.
func (db *DB) MemberRole(ctx context.Context, org live.OrgID, user live.UserID) (live.OrgRole, error) {
	var role live.OrgRole
	err := db.r().row(ctx, "SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org, user).Scan(&role)
	return role, one(err, "membership")
}

// Members lists an org's members (ids, display names, roles) by join time.
func (db *DB) Members(ctx context.Context, org live.OrgID) ([]live.Member, error) {
	rows, err := db.r().query(ctx, `SELECT m.org_id, m.user_id, u.name, m.role FROM org_members m
		JOIN users u ON u.id = m.user_id WHERE m.org_id = ? ORDER BY m.created_at, m.user_id`, org)
	if err != nil {
		return nil, fmt.Errorf("store: listing members: %w", err)
	}
	defer rows.Close()
	out := []live.Member{}
	for rows.Next() {
		var m live.Member
		if err := rows.Scan(&m.OrgID, &m.UserID, &m.Name, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// OrgsOf lists the orgs user is a member of, with the role in each.
func (db *DB) OrgsOf(ctx context.Context, user live.UserID) ([]OrgMembership, error) {
	rows, err := db.r().query(ctx, `SELECT o.id, o.name, o.created_at, m.role FROM org_members m
		JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ? ORDER BY o.name, o.id`, user)
	if err != nil {
		return nil, fmt.Errorf("store: listing orgs: %w", err)
	}
	defer rows.Close()
	out := []OrgMembership{}
	for rows.Next() {
		var m OrgMembership
		var created int64
		if err := rows.Scan(&m.Org.ID, &m.Org.Name, &created, &m.Role); err != nil {
			return nil, err
		}
		m.Org.CreatedAt = fromTS(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// OrgMembership is one org of a user and the user's role in it.
type OrgMembership struct {
	Org  live.Org     `json:"org"`
	Role live.OrgRole `json:"role"`
}
