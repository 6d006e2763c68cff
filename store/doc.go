// Package store is jobcast's SQL storage: one schema, one set of migrations
// and one set of queries that run on SQLite (modernc.org/sqlite, the embedded
// default) and on PostgreSQL (jackc/pgx/v5 through database/sql).
//
// Queries are written once with "?" placeholders; the DB rebinds them to
// "$n" for PostgreSQL in one place (rebind). Times are stored as UTC unix
// microseconds (BIGINT) so both dialects sort and compare them the same way;
// lists (tags, skills, blocked words) are JSON text, with job tags also kept
// in a job_tags table for indexed filtering.
//
// On SQLite every write goes through one dedicated writer connection whose
// transactions begin IMMEDIATE, so concurrent writers queue inside the
// process instead of failing with "database is locked"; reads use a separate
// pool (WAL lets them run beside the writer). On PostgreSQL both sides share
// one pool.
//
// Methods return live.ErrNotFound for missing rows and live.ErrConflict for
// unique violations, wrapped with %w so callers test them with errors.Is.
// A *DB is safe for concurrent use.
package store
