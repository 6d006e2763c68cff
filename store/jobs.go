package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"jobcast/live"
)

const jobCols = `j.id, j.org_id, o.name, j.title, j.description, j.city, j.salary_min, j.salary_max,
	j.salary_period, j.openings, j.tags, j.status, j.created_at, j.updated_at`

const jobFrom = " FROM jobs j JOIN orgs o ON o.id = j.org_id"

func scanJob(sc interface{ Scan(...any) error }, j *live.Job, extra ...any) error {
	var tags string
	var created, updated int64
	dst := []any{&j.ID, &j.OrgID, &j.OrgName, &j.Title, &j.Description, &j.City, &j.SalaryMin, &j.SalaryMax,
		&j.SalaryPeriod, &j.Openings, &tags, &j.Status, &created, &updated}
	if err := sc.Scan(append(dst, extra...)...); err != nil {
		return err
	}
	j.Tags = decodeList(tags)
	j.CreatedAt, j.UpdatedAt = fromTS(created), fromTS(updated)
	return nil
}

// CreateJob inserts a job (normalized and validated by the caller) and its
// tags. live.ErrNotFound if the org does not exist.
func (db *DB) CreateJob(ctx context.Context, j live.Job) error {
	return db.tx(ctx, func(x q) error {
		if _, err := x.exec(ctx, `INSERT INTO jobs (id, org_id, title, description, city, salary_min, salary_max,
			salary_period, openings, tags, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.OrgID, j.Title, j.Description, j.City, j.SalaryMin, j.SalaryMax, j.SalaryPeriod, j.Openings,
			encodeList(j.Tags), j.Status, ts(j.CreatedAt), ts(j.UpdatedAt)); err != nil {
			return fmt.Errorf("store: creating job: %w", err)
		}
		return putTags(ctx, x, j)
	})
}

func putTags(ctx context.Context, x q, j live.Job) error {
	if _, err := x.exec(ctx, "DELETE FROM job_tags WHERE job_id = ?", j.ID); err != nil {
		return fmt.Errorf("store: job tags: %w", err)
	}
	for _, t := range j.Tags {
		if _, err := x.exec(ctx, "INSERT INTO job_tags (job_id, tag) VALUES (?, ?)", j.ID, t); err != nil {
			return fmt.Errorf("store: job tags: %w", err)
		}
	}
	return nil
}

// Job returns a job with its org's name.
func (db *DB) Job(ctx context.Context, id live.JobID) (live.Job, error) {
	var j live.Job
	err := scanJob(db.r().row(ctx, "SELECT "+jobCols+jobFrom+" WHERE j.id = ?", id), &j)
	return j, one(err, "job")
}

// UpdateJob applies change to the current job inside one transaction and
// stores the result; change sees the stored job and returns the new one (or
// an error, which aborts without a change). The org and id cannot change.
func (db *DB) UpdateJob(ctx context.Context, id live.JobID, change func(live.Job) (live.Job, error)) (live.Job, error) {
	var out live.Job
	err := db.tx(ctx, func(x q) error {
		var cur live.Job
		if err := scanJob(x.row(ctx, "SELECT "+jobCols+jobFrom+" WHERE j.id = ?", id), &cur); err != nil {
			return one(err, "job")
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		next.ID, next.OrgID, next.OrgName, next.CreatedAt = cur.ID, cur.OrgID, cur.OrgName, cur.CreatedAt
		next.UpdatedAt = db.nowTime()
		if _, err := x.exec(ctx, `UPDATE jobs SET title = ?, description = ?, city = ?, salary_min = ?, salary_max = ?,
			salary_period = ?, openings = ?, tags = ?, status = ?, updated_at = ? WHERE id = ?`,
			next.Title, next.Description, next.City, next.SalaryMin, next.SalaryMax, next.SalaryPeriod, next.Openings,
			encodeList(next.Tags), next.Status, ts(next.UpdatedAt), id); err != nil {
			return fmt.Errorf("store: updating job: %w", err)
		}
		if err := putTags(ctx, x, next); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

// JobFilter selects jobs. Zero fields do not filter. Limit is capped at
// MaxPage (default DefaultPage); Offset skips rows.
type JobFilter struct {
	OrgID  live.OrgID
	Status live.JobStatus
	Tag    string
	City   string
	Query  string // case-insensitive substring of title or description
	Limit  int
	Offset int
}

// Page sizes for list queries.
const (
	DefaultPage = 50
	MaxPage     = 200
)

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPage
	case n > MaxPage:
		return MaxPage
	}
	return n
}

// likePattern escapes s for LIKE ... ESCAPE '\' as a substring match.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// Jobs lists jobs matching f, newest first. It returns up to f.Limit jobs
// and whether more follow.
func (db *DB) Jobs(ctx context.Context, f JobFilter) ([]live.Job, bool, error) {
	var where []string
	var args []any
	if f.OrgID != "" {
		where, args = append(where, "j.org_id = ?"), append(args, f.OrgID)
	}
	if f.Status != "" {
		where, args = append(where, "j.status = ?"), append(args, f.Status)
	}
	if f.Tag != "" {
		where, args = append(where, "EXISTS (SELECT 1 FROM job_tags t WHERE t.job_id = j.id AND t.tag = ?)"), append(args, f.Tag)
	}
	if f.City != "" {
		where, args = append(where, "LOWER(j.city) = ?"), append(args, strings.ToLower(strings.TrimSpace(f.City)))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		p := likePattern(q)
		where = append(where, `(LOWER(j.title) LIKE ? ESCAPE '\' OR LOWER(j.description) LIKE ? ESCAPE '\' OR LOWER(o.name) LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p)
	}
	query := "SELECT " + jobCols + jobFrom
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := pageLimit(f.Limit)
	offset := max(f.Offset, 0)
	query += " ORDER BY j.id DESC LIMIT ? OFFSET ?"
	args = append(args, limit+1, offset)
	rows, err := db.r().query(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: listing jobs: %w", err)
	}
	return scanPage(rows, limit, func(rows *sql.Rows, j *live.Job) error { return scanJob(rows, j) })
}
