package store

import "database/sql"

// scanPage reads rows queried with LIMIT limit+1 into at most limit values
// with scan, and reports whether more rows follow. It closes rows.
func scanPage[T any](rows *sql.Rows, limit int, scan func(*sql.Rows, *T) error) ([]T, bool, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, false, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
