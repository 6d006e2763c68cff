// Package storetest opens throw-away jobcast stores for tests: a SQLite file
// in the test's temp dir, or a freshly created PostgreSQL database that is
// dropped when the test ends.
//
// PostgreSQL is found at JOBCAST_TEST_DATABASE_URL or, by default,
// postgres://postgres@127.0.0.1:5432/postgres. When it does not answer the
// test is skipped with a clear message — unless CI=true, where it fails.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"jobcast/store"
)

// DefaultPostgresURL is where tests look for PostgreSQL by default.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// SQLite opens a fresh SQLite store in t.TempDir(), closed at cleanup.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatalf("opening sqlite store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates a fresh database and returns its URL; the database is
// dropped at cleanup. It skips (or fails under CI=true) without PostgreSQL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("JOBCAST_TEST_DATABASE_URL")
	if admin == "" {
		admin = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adb, err := sql.Open("pgx", admin)
	if err == nil {
		err = adb.PingContext(ctx)
	}
	if err != nil {
		if adb != nil {
			adb.Close()
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true but does not answer at %s: %v", redact(admin), err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set JOBCAST_TEST_DATABASE_URL): %v", redact(admin), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "jobcast_test_" + hex.EncodeToString(b[:])
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		adb.Close()
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
		adb.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parsing %s: %v", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres opens a store on a fresh PostgreSQL database (see PostgresURL).
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	u := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, u, "")
	if err != nil {
		t.Fatalf("opening postgres store: %v", err)
	}
	// Registered after the drop, so it runs before it.
	t.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn as a subtest against a fresh SQLite store and a fresh
// PostgreSQL store.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the configured URL"
	}
	if p.User != nil {
		if _, ok := p.User.Password(); ok {
			p.User = url.UserPassword(p.User.Username(), "xxx")
		}
	}
	return strings.TrimSpace(p.String())
}

// EachPair runs fn as a subtest with two stores on one database — like two
// jobcast nodes: two handles on one SQLite file, then two pools on one fresh
// PostgreSQL database.
func EachPair(t *testing.T, fn func(t *testing.T, db1, db2 *store.DB)) {
	t.Helper()
	pair := func(t *testing.T, url, dir string) {
		open := func() *store.DB {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db, err := store.Open(ctx, url, dir)
			if err != nil {
				t.Fatalf("opening store: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		fn(t, open(), open())
	}
	t.Run("sqlite", func(t *testing.T) { pair(t, "", t.TempDir()) })
	t.Run("postgres", func(t *testing.T) { pair(t, PostgresURL(t), "") })
}
