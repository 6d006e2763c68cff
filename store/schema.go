package store

// migrations is the whole schema history, oldest first. Never edit an
// applied migration; append a new one.
//
// Conventions: ids are UUID text; *_at columns are UTC unix microseconds;
// lists are JSON text; booleans are BOOLEAN (0/1 in SQLite).
var migrations = []migration{
	{Version: 1, Name: "initial schema", SQL: `
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE sessions (
	token_hash   TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	revoked_at   BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE profiles (
	user_id             TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	full_name           TEXT NOT NULL DEFAULT '',
	phone               TEXT NOT NULL DEFAULT '',
	city                TEXT NOT NULL DEFAULT '',
	skills              TEXT NOT NULL DEFAULT '[]',
	summary             TEXT NOT NULL DEFAULT '',
	accessibility_needs TEXT NOT NULL DEFAULT '',
	updated_at          BIGINT NOT NULL
);

CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE org_members (
	org_id     TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL CHECK (role IN ('owner', 'recruiter')),
	created_at BIGINT NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE jobs (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	title         TEXT NOT NULL,
	description   TEXT NOT NULL DEFAULT '',
	city          TEXT NOT NULL DEFAULT '',
	salary_min    BIGINT NOT NULL DEFAULT 0,
	salary_max    BIGINT NOT NULL DEFAULT 0,
	salary_period TEXT NOT NULL CHECK (salary_period IN ('hour', 'day', 'month', 'year')),
	openings      INTEGER NOT NULL DEFAULT 0,
	tags          TEXT NOT NULL DEFAULT '[]',
	status        TEXT NOT NULL CHECK (status IN ('open', 'closed')),
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);
CREATE INDEX jobs_org ON jobs (org_id, id);
CREATE INDEX jobs_status ON jobs (status, id);
CREATE INDEX jobs_city ON jobs (city, status);

CREATE TABLE job_tags (
	job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	tag    TEXT NOT NULL,
	PRIMARY KEY (job_id, tag)
);
CREATE INDEX job_tags_tag ON job_tags (tag, job_id);

CREATE TABLE rooms (
	id                TEXT PRIMARY KEY,
	org_id            TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	title             TEXT NOT NULL,
	description       TEXT NOT NULL DEFAULT '',
	status            TEXT NOT NULL CHECK (status IN ('scheduled', 'live', 'ended')),
	starts_at         BIGINT NOT NULL,
	started_at        BIGINT,
	ended_at          BIGINT,
	slow_mode_seconds INTEGER NOT NULL DEFAULT 0,
	chat_mode         TEXT NOT NULL DEFAULT 'open' CHECK (chat_mode IN ('open', 'profile_complete', 'off')),
	blocked_words     TEXT NOT NULL DEFAULT '[]',
	mask_pii          BOOLEAN NOT NULL DEFAULT TRUE,
	hold_scams        BOOLEAN NOT NULL DEFAULT TRUE,
	pinned_job_id     TEXT REFERENCES jobs (id) ON DELETE SET NULL,
	pinned_by_org     TEXT,
	stream_key_hash   TEXT NOT NULL DEFAULT '',
	stream_key_hint   TEXT NOT NULL DEFAULT '',
	stream_key_at     BIGINT,
	created_by        TEXT REFERENCES users (id) ON DELETE SET NULL,
	created_at        BIGINT NOT NULL,
	updated_at        BIGINT NOT NULL
);
CREATE INDEX rooms_status ON rooms (status, starts_at);
CREATE INDEX rooms_org ON rooms (org_id, starts_at);

CREATE TABLE room_exhibitors (
	room_id  TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	org_id   TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	added_at BIGINT NOT NULL,
	PRIMARY KEY (room_id, org_id)
);
CREATE INDEX room_exhibitors_org ON room_exhibitors (org_id);

CREATE TABLE room_staff (
	room_id  TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role     TEXT NOT NULL CHECK (role IN ('moderator', 'advisor')),
	added_by TEXT REFERENCES users (id) ON DELETE SET NULL,
	added_at BIGINT NOT NULL,
	PRIMARY KEY (room_id, user_id, role)
);
CREATE INDEX room_staff_user ON room_staff (user_id);

CREATE TABLE room_shelf (
	room_id  TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	job_id   TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	added_by_org TEXT REFERENCES orgs (id) ON DELETE SET NULL,
	added_at BIGINT NOT NULL,
	PRIMARY KEY (room_id, job_id)
);
CREATE INDEX room_shelf_order ON room_shelf (room_id, position);

CREATE TABLE applications (
	id              TEXT PRIMARY KEY,
	job_id          TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	org_id          TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	seeker_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	room_id         TEXT REFERENCES rooms (id) ON DELETE SET NULL,
	status          TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'reviewed', 'interview', 'offer', 'hired', 'rejected')),
	note            TEXT NOT NULL DEFAULT '',
	notes           TEXT NOT NULL DEFAULT '',
	profile         TEXT NOT NULL,
	idempotency_key TEXT,
	request_hash    TEXT NOT NULL DEFAULT '',
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL,
	UNIQUE (job_id, seeker_id)
);
CREATE UNIQUE INDEX applications_idem ON applications (seeker_id, idempotency_key);
CREATE INDEX applications_org ON applications (org_id, id);
CREATE INDEX applications_room ON applications (room_id, job_id);
CREATE INDEX applications_seeker ON applications (seeker_id, id);

CREATE TABLE outbox (
	id           {{serial}},
	topic        TEXT NOT NULL,
	room_id      TEXT,
	org_id       TEXT,
	user_id      TEXT,
	payload      TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	delivered_at BIGINT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, id);

CREATE TABLE audit_log (
	id         {{serial}},
	room_id    TEXT,
	org_id     TEXT,
	actor_id   TEXT,
	action     TEXT NOT NULL,
	target_id  TEXT NOT NULL DEFAULT '',
	reason     TEXT NOT NULL DEFAULT '',
	data       TEXT NOT NULL DEFAULT '{}',
	created_at BIGINT NOT NULL
);
CREATE INDEX audit_room ON audit_log (room_id, id);
CREATE INDEX audit_org ON audit_log (org_id, id);

CREATE TABLE room_bans (
	room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	by_user    TEXT REFERENCES users (id) ON DELETE SET NULL,
	reason     TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	PRIMARY KEY (room_id, user_id)
);

CREATE TABLE room_mutes (
	room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	until_at   BIGINT NOT NULL,
	by_user    TEXT REFERENCES users (id) ON DELETE SET NULL,
	reason     TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	PRIMARY KEY (room_id, user_id)
);

CREATE TABLE advisor_notes (
	id         TEXT PRIMARY KEY,
	room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seeker_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	advisor_id TEXT REFERENCES users (id) ON DELETE SET NULL,
	kind       TEXT NOT NULL DEFAULT 'follow_up',
	note       TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);
CREATE INDEX advisor_notes_room ON advisor_notes (room_id, seeker_id)`,
		// audit_log is append-only: the database refuses updates and deletes.
		SQLite: `
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
		Postgres: `
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
	},
	{Version: 2, Name: "index open jobs by city", SQL: `
CREATE INDEX jobs_status_city ON jobs (status, LOWER(city), id)`},
}
