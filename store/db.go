package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"jobcast/live"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the jobcast store. Create it with Open, OpenSQLite or OpenPostgres;
// Close it once. Safe for concurrent use.
type DB struct {
	dialect Dialect
	read    *sql.DB // queries outside transactions
	write   *sql.DB // transactions; on SQLite exactly one connection
	now     func() time.Time

	shards       int           // applicant counter shards per job (PostgreSQL)
	shard        atomic.Uint32 // round robin over them (nextShard)
	applyRetries atomic.Int64  // commit batches re-run after a deadlock
}

// Open opens the store for databaseURL when it is a postgres:// (or
// postgresql://) URL, otherwise the SQLite file jobcast.db in dataDir
// (created if missing). Migrations are applied before it returns. It blocks
// for the connection and the migrations.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	if u := strings.TrimSpace(databaseURL); u != "" {
		if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			return nil, errors.New("store: database URL must start with postgres:// (leave it empty for the embedded SQLite)")
		}
		return OpenPostgres(ctx, u)
	}
	if dataDir == "" {
		dataDir = "data"
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: creating data dir: %w", err)
	}
	return OpenSQLite(ctx, filepath.Join(dataDir, "jobcast.db"))
}

// OpenSQLite opens (creating if needed) the SQLite database at path with WAL,
// synchronous=FULL, a busy timeout and foreign keys on, and applies the
// migrations.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening sqlite: %w", err)
	}
	// One writer connection: writers queue on database/sql's pool instead of
	// racing for SQLite's write lock.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	rq := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "query_only(1)"} {
		rq.Add("_pragma", p)
	}
	read, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: opening sqlite: %w", err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	db := &DB{dialect: SQLite, read: read, write: write, now: time.Now}
	if err := db.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenPostgres connects to the PostgreSQL database at url and applies the
// migrations (serialized across nodes with an advisory lock).
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	pool, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: opening postgres: %w", err)
	}
	pool.SetMaxOpenConns(20)
	pool.SetMaxIdleConns(10)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{dialect: Postgres, read: pool, write: pool, now: time.Now, shards: applicantShards}
	// Nodes start their round robins at different shards, so their batches
	// rarely meet on one counter row.
	db.shard.Store(rand.Uint32())
	if err := db.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) init(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("store: connecting to %s: %w", db.dialect, err)
	}
	return db.migrate(ctx)
}

// Dialect reports the engine behind db.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers (for /readyz). It blocks up to ctx.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes every connection. Call it once, after the last use.
func (db *DB) Close() error {
	err := db.read.Close()
	if db.write != db.read {
		if werr := db.write.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// rebind turns "?" placeholders into "$1, $2, …" for PostgreSQL. Queries in
// this package never contain a literal "?" inside strings.
func (db *DB) rebind(q string) string {
	if db.dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q is a querier that rebinds placeholders.
type q struct {
	db *DB
	x  querier
}

func (q q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := q.x.ExecContext(ctx, q.db.rebind(query), args...)
	return res, mapErr(err)
}

func (q q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := q.x.QueryContext(ctx, q.db.rebind(query), args...)
	return rows, mapErr(err)
}

func (q q) row(ctx context.Context, query string, args ...any) *sql.Row {
	return q.x.QueryRowContext(ctx, q.db.rebind(query), args...)
}

// r is the read side.
func (db *DB) r() q { return q{db, db.read} }

// w is the write side outside an explicit transaction.
func (db *DB) w() q { return q{db, db.write} }

// tx runs fn in one write transaction (IMMEDIATE on SQLite) and commits it
// if fn returns nil. It blocks until the writer is free.
func (db *DB) tx(ctx context.Context, fn func(q) error) error {
	t, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", mapErr(err))
	}
	if err := fn(q{db, t}); err != nil {
		_ = t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", mapErr(err))
	}
	return nil
}

// mapErr turns driver errors for unique and foreign-key violations and
// sql.ErrNoRows into the live sentinels (wrapped, with the original text).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", live.ErrNotFound, err)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return fmt.Errorf("%w: %s", live.ErrConflict, pg.ConstraintName)
		case "23503":
			return fmt.Errorf("%w: %s", live.ErrNotFound, pg.ConstraintName)
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", live.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", live.ErrNotFound, err)
		}
	}
	return err
}

// one maps a QueryRow Scan error: no rows → live.ErrNotFound naming what.
func one(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, live.ErrNotFound)
	}
	return fmt.Errorf("store: reading %s: %w", what, mapErr(err))
}

// Times are stored as UTC unix microseconds.

func ts(t time.Time) int64 { return t.UTC().UnixMicro() }

func fromTS(us int64) time.Time { return time.UnixMicro(us).UTC() }

func tsPtr(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return ts(*t)
}

func fromNullTS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

// nowTS is the current time at microsecond precision (what round-trips).
func (db *DB) nowTime() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}
