package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"jobcast/live"
)

// ApplyInput is one one-tap application to commit. The caller has checked
// the room, the shelf, the job's status and the profile; ID is the id to
// use if the application is new.
type ApplyInput struct {
	ID             live.ApplicationID
	JobID          live.JobID
	OrgID          live.OrgID
	SeekerID       live.UserID
	RoomID         live.RoomID
	Note           string
	Profile        live.Profile // snapshot at apply time
	IdempotencyKey string       // optional, scoped to the seeker
	RequestHash    string       // what the request asked for (job, room, note)
	JobTitle       string       // for the employer's feed event (not personal data)
	At             time.Time
}

// ApplyResult is the outcome of one ApplyInput: the stored application and
// whether this call created it, or Err (an idempotency-key mismatch is a
// live InvalidState error).
type ApplyResult struct {
	App     live.Application
	Created bool
	Err     error
}

// OutboxApplication is the outbox topic of a committed application; its
// payload is OutboxApplicationData (ids only).
const OutboxApplication = "application"

// OutboxApplicationData is the payload of an OutboxApplication row.
type OutboxApplicationData struct {
	ApplicationID live.ApplicationID `json:"application_id"`
	JobID         live.JobID         `json:"job_id"`
	JobTitle      string             `json:"job_title"`
	At            time.Time          `json:"at"`
}

// maxApplyBatch bounds the rows of one multi-row statement (12 parameters a
// row stays far below both engines' parameter limits).
const maxApplyBatch = 500

const applyCols = `a.id, a.job_id, j.title, a.org_id, COALESCE(a.room_id, ''), a.seeker_id, a.status, a.note,
	a.notes, a.profile, COALESCE(a.idempotency_key, ''), a.request_hash, a.created_at, a.updated_at`

const applyFrom = " FROM applications a JOIN jobs j ON j.id = a.job_id"

type applyRow struct {
	app         live.Application
	idemKey     string
	requestHash string
}

func scanApplyRow(sc interface{ Scan(...any) error }) (applyRow, error) {
	var r applyRow
	var profile string
	var created, updated int64
	err := sc.Scan(&r.app.ID, &r.app.JobID, &r.app.JobTitle, &r.app.OrgID, &r.app.RoomID, &r.app.SeekerID,
		&r.app.Status, &r.app.Note, &r.app.Notes, &profile, &r.idemKey, &r.requestHash, &created, &updated)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(profile), &r.app.Profile); err != nil {
		return r, fmt.Errorf("store: application %s profile: %w", r.app.ID, err)
	}
	if r.app.Profile.Skills == nil {
		r.app.Profile.Skills = []string{}
	}
	r.app.CreatedAt, r.app.UpdatedAt = fromTS(created), fromTS(updated)
	return r, nil
}

// ApplyFacts is everything the apply endpoint checks before it commits,
// read in one statement: whether the seeker is banned from the room, the
// job if it is on the room's shelf, and the seeker's profile.
type ApplyFacts struct {
	Banned     bool
	OnShelf    bool
	Job        live.Job // ID, OrgID, Title and Status only; set when OnShelf
	HasProfile bool
	Profile    live.Profile // zero when !HasProfile
}

// applyFactsCols are the ApplyFacts columns over rooms r, room_shelf s,
// jobs j and profiles p, with the user's id as the one parameter.
const applyFactsCols = `CASE WHEN EXISTS (SELECT 1 FROM room_bans b WHERE b.room_id = r.id AND b.user_id = ?) THEN 1 ELSE 0 END,
	CASE WHEN j.id IS NULL THEN 0 ELSE 1 END, COALESCE(j.id, ''), COALESCE(j.org_id, ''), COALESCE(j.title, ''), COALESCE(j.status, ''),
	CASE WHEN p.user_id IS NULL THEN 0 ELSE 1 END, COALESCE(p.full_name, ''), COALESCE(p.phone, ''), COALESCE(p.city, ''),
	COALESCE(p.skills, '[]'), COALESCE(p.summary, ''), COALESCE(p.accessibility_needs, ''), COALESCE(p.updated_at, 0)`

func scanApplyFacts(sc interface{ Scan(...any) error }, extra ...any) (ApplyFacts, error) {
	var f ApplyFacts
	var banned, onShelf, hasProfile int
	var skills string
	var updated int64
	err := sc.Scan(append(append([]any{}, extra...), &banned, &onShelf, &f.Job.ID, &f.Job.OrgID, &f.Job.Title, &f.Job.Status,
		&hasProfile, &f.Profile.FullName, &f.Profile.Phone, &f.Profile.City, &skills, &f.Profile.Summary,
		&f.Profile.AccessibilityNeeds, &updated)...)
	if err != nil {
		return f, err
	}
	f.Banned, f.OnShelf, f.HasProfile = banned == 1, onShelf == 1, hasProfile == 1
	if f.HasProfile {
		f.Profile.Skills = decodeList(skills)
		f.Profile.UpdatedAt = fromTS(updated)
	}
	return f, nil
}

// ApplyFacts reads, in one query (one round trip), what one apply needs:
// the ban, the shelf entry with the job's org, title and status, and the
// profile to snapshot. An unknown room gives live.ErrNotFound ("room"); a
// job not on the shelf is OnShelf false. It replaces the room access,
// shelf and profile reads (seven queries on PostgreSQL) on the apply path.
func (db *DB) ApplyFacts(ctx context.Context, room live.RoomID, job live.JobID, user live.UserID) (ApplyFacts, error) {
	f, err := scanApplyFacts(db.r().row(ctx, `SELECT `+applyFactsCols+` FROM rooms r
		LEFT JOIN room_shelf s ON s.room_id = r.id AND s.job_id = ?
		LEFT JOIN jobs j ON j.id = s.job_id
		LEFT JOIN profiles p ON p.user_id = ?
		WHERE r.id = ?`, user, job, user, room))
	if err != nil {
		return f, one(err, "room")
	}
	return f, nil
}

// ApplyFactsKey names one apply's facts: who applies to which job from
// which room.
type ApplyFactsKey struct {
	Room live.RoomID
	Job  live.JobID
	User live.UserID
}

// ApplyFactsBatch is ApplyFacts for many applies in one query on
// PostgreSQL (one round trip for a whole burst of concurrent applies; one
// query per key on SQLite). It returns one result per key, in order: the
// facts, or an error (live.ErrNotFound for an unknown room).
func (db *DB) ApplyFactsBatch(ctx context.Context, keys []ApplyFactsKey) ([]ApplyFacts, []error, error) {
	facts, errs := make([]ApplyFacts, len(keys)), make([]error, len(keys))
	if db.dialect != Postgres {
		for i, k := range keys {
			facts[i], errs[i] = db.ApplyFacts(ctx, k.Room, k.Job, k.User)
		}
		return facts, errs, nil
	}
	rooms, jobs, users := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		rooms[i], jobs[i], users[i] = string(k.Room), string(k.Job), string(k.User)
		errs[i] = fmt.Errorf("room: %w", live.ErrNotFound) // until its row is seen
	}
	rows, err := db.r().query(ctx, `SELECT t.ord, `+strings.Replace(applyFactsCols, "b.user_id = ?", "b.user_id = t.usr", 1)+`
		FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS t(room, job, usr, ord)
		JOIN rooms r ON r.id = t.room
		LEFT JOIN room_shelf s ON s.room_id = r.id AND s.job_id = t.job
		LEFT JOIN jobs j ON j.id = s.job_id
		LEFT JOIN profiles p ON p.user_id = t.usr`, rooms, jobs, users)
	if err != nil {
		return nil, nil, fmt.Errorf("store: reading apply facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ord int64
		f, err := scanApplyFacts(rows, &ord)
		if err != nil {
			return nil, nil, fmt.Errorf("store: reading apply facts: %w", err)
		}
		if ord < 1 || int(ord) > len(keys) {
			return nil, nil, fmt.Errorf("store: reading apply facts: row %d of %d", ord, len(keys))
		}
		facts[ord-1], errs[ord-1] = f, nil
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: reading apply facts: %w", mapErr(err))
	}
	return facts, errs, nil
}

// CommitApplications commits a batch of applications — one fsync for the
// whole batch (group commit) — and returns one result per input, in order.
// A seeker's repeat for the same job (in this batch, in an earlier one, or
// from another node at the same moment) gets the existing application with
// Created false: the UNIQUE(job_id, seeker_id) constraint decides, never a
// check-then-insert. Every new application is committed together with its
// profile snapshot, source room and outbox row.
//
// On SQLite the batch is one write transaction. On PostgreSQL the inserts
// (applications and their outbox rows) are one statement, atomic by
// itself, so no BEGIN/COMMIT round trips are spent; the reads around it
// (idempotency keys before, repeats after) need no transaction under READ
// COMMITTED — the unique constraints decide, and the repeat's row was
// committed before the insert saw the conflict.
//
// If nothing was committed the error is returned; callers may retry the
// inputs one by one. If, on PostgreSQL, the insert committed and a later
// read failed, the created applications are answered and the others carry
// the error in their ApplyResult.
func (db *DB) CommitApplications(ctx context.Context, in []ApplyInput) ([]ApplyResult, error) {
	out := make([]ApplyResult, len(in))
	chunks := func(x q) error {
		for start := 0; start < len(in); start += maxApplyBatch {
			end := min(start+maxApplyBatch, len(in))
			if err := commitChunk(ctx, x, in[start:end], out[start:end]); err != nil {
				return err
			}
		}
		return nil
	}
	if db.dialect != Postgres {
		if err := db.tx(ctx, chunks); err != nil {
			return nil, err
		}
		return out, nil
	}
	err := chunks(db.w())
	if err == nil {
		return out, nil
	}
	if !slices.ContainsFunc(out, func(r ApplyResult) bool { return r.Created }) {
		return nil, err
	}
	for i := range out {
		if out[i].App.ID == "" && out[i].Err == nil {
			out[i].Err = err
		}
	}
	return out, nil
}

type jobSeeker struct {
	job    live.JobID
	seeker live.UserID
}

type seekerKey struct {
	seeker live.UserID
	key    string
}

func commitChunk(ctx context.Context, x q, in []ApplyInput, out []ApplyResult) error {
	// 1. Idempotency keys already used decide their requests outright.
	byKey, err := appsByKey(ctx, x, in)
	if err != nil {
		return err
	}
	pending := make([]int, 0, len(in))
	for i, a := range in {
		if a.IdempotencyKey == "" {
			pending = append(pending, i)
			continue
		}
		if r, ok := byKey[seekerKey{a.SeekerID, a.IdempotencyKey}]; ok {
			out[i] = keyedResult(r, a)
			continue
		}
		pending = append(pending, i)
	}
	// 2. One multi-row insert; conflicts (job+seeker, or seeker+key) are
	// skipped and resolved below. Within the chunk the first of several
	// inputs for the same job and seeker is the one inserted.
	first := map[jobSeeker]int{}
	var ins []int
	for _, i := range pending {
		k := jobSeeker{in[i].JobID, in[i].SeekerID}
		if _, dup := first[k]; !dup {
			first[k] = i
			ins = append(ins, i)
		}
	}
	created := map[live.ApplicationID]bool{}
	if len(ins) > 0 {
		insert := insertApplications
		if x.db.dialect == Postgres {
			insert = insertApplicationsPG
		}
		if err := insert(ctx, x, in, ins, created); err != nil {
			return err
		}
	}
	// The created ones are answered at once: on PostgreSQL the insert has
	// committed by itself, and what follows only reads.
	var outbox []ApplyInput
	for _, i := range ins {
		if created[in[i].ID] {
			out[i] = ApplyResult{App: newApp(in[i]), Created: true}
			outbox = append(outbox, in[i])
		}
	}
	// 3. Everything not created now exists already: read it back.
	var lookup []jobSeeker
	for _, i := range pending {
		if !created[in[i].ID] {
			lookup = append(lookup, jobSeeker{in[i].JobID, in[i].SeekerID})
		}
	}
	existing, err := appsByJobSeeker(ctx, x, lookup)
	if err != nil {
		return err
	}
	for _, i := range pending {
		a := in[i]
		if created[a.ID] {
			continue
		}
		r, ok := existing[jobSeeker{a.JobID, a.SeekerID}]
		if !ok {
			// Created in this chunk by an earlier input for the same pair.
			if j, ok2 := first[jobSeeker{a.JobID, a.SeekerID}]; ok2 && created[in[j].ID] {
				out[i] = ApplyResult{App: newApp(in[j])}
				continue
			}
			// The insert lost to an idempotency key this seeker used for
			// another request a moment ago (on another node).
			again, err := appsByKey(ctx, x, []ApplyInput{a})
			if err != nil {
				return err
			}
			if r, ok := again[seekerKey{a.SeekerID, a.IdempotencyKey}]; ok && a.IdempotencyKey != "" {
				out[i] = keyedResult(r, a)
				continue
			}
			return fmt.Errorf("store: application for job %s vanished during commit", a.JobID)
		}
		out[i] = ApplyResult{App: r.app}
	}
	if x.db.dialect == Postgres {
		return nil // outbox and counters written by the insert statement
	}
	if err := addApplicants(ctx, x, outbox); err != nil {
		return err
	}
	return writeApplyOutbox(ctx, x, outbox)
}

// addApplicants adds the created applications to their jobs' applicant
// counters, in the caller's transaction (SQLite: the one writer, one
// shard, no lock order to keep).
func addApplicants(ctx context.Context, x q, created []ApplyInput) error {
	n := map[live.JobID]int{}
	for _, a := range created {
		n[a.JobID]++
	}
	for _, j := range slices.Sorted(maps.Keys(n)) {
		if _, err := x.exec(ctx, `INSERT INTO job_applicants AS c (job_id, shard, n) VALUES (?, 0, ?)
			ON CONFLICT (job_id, shard) DO UPDATE SET n = c.n + excluded.n`, j, n[j]); err != nil {
			return fmt.Errorf("store: counting applicants: %w", err)
		}
	}
	return nil
}

func profileSnapshot(a ApplyInput) (string, error) {
	snap := a.Profile
	if snap.Skills == nil {
		snap.Skills = []string{}
	}
	profile, err := json.Marshal(snap)
	if err != nil {
		return "", fmt.Errorf("store: encoding profile snapshot: %w", err)
	}
	return string(profile), nil
}

// insertApplications inserts in[ins] with one multi-row INSERT … ON
// CONFLICT DO NOTHING RETURNING id and records the ids it created.
func insertApplications(ctx context.Context, x q, in []ApplyInput, ins []int, created map[live.ApplicationID]bool) error {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO applications (id, job_id, org_id, seeker_id, room_id, status, note, notes, profile,
		idempotency_key, request_hash, created_at, updated_at) VALUES `)
	args := make([]any, 0, len(ins)*11)
	for n, i := range ins {
		a := in[i]
		if n > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, 'new', ?, '', ?, ?, ?, ?, ?)")
		profile, err := profileSnapshot(a)
		if err != nil {
			return err
		}
		at := ts(a.At)
		args = append(args, a.ID, a.JobID, a.OrgID, a.SeekerID, nullStr(string(a.RoomID)), a.Note, profile,
			nullStr(a.IdempotencyKey), a.RequestHash, at, at)
	}
	sb.WriteString(" ON CONFLICT DO NOTHING RETURNING id")
	rows, err := x.query(ctx, sb.String(), args...)
	return scanCreated(rows, err, created)
}

// applyInsertPG inserts a batch of applications and, for the rows it
// created, their outbox rows, and adds them to their jobs' applicant
// counters — one statement, so one round trip and one atomic commit, and
// its text never changes with the batch size, so the driver prepares it
// once per connection (a multi-row VALUES list is a new statement for
// every batch size). The arrays are the columns, one element per input.
//
// The counters: only rows the insert created count (a repeat hits ON
// CONFLICT and is not in ins). A batch adds to the shard $12, which
// the next batch does not share (DB.nextShard), so concurrent committers
// do not touch the same counter row; when they do (more batches in flight
// than shards), the rows are upserted in job id order, so the batches wait
// for each other instead of deadlocking, and the upsert adds to the latest
// committed value, so no increment is lost.
const applyInsertPG = `WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::bigint[], $11::text[])
		WITH ORDINALITY AS t(id, job_id, org_id, seeker_id, room_id, note, profile, idem, request_hash, at, payload, ord)
), ins AS (
	INSERT INTO applications (id, job_id, org_id, seeker_id, room_id, status, note, notes, profile,
		idempotency_key, request_hash, created_at, updated_at)
	SELECT id, job_id, org_id, seeker_id, NULLIF(room_id, ''), 'new', note, '', profile,
		NULLIF(idem, ''), request_hash, at, at FROM input ORDER BY ord
	ON CONFLICT DO NOTHING RETURNING id, job_id
), ob AS (
	INSERT INTO outbox (topic, room_id, org_id, user_id, payload, created_at)
	SELECT 'application', NULLIF(input.room_id, ''), input.org_id, NULL, input.payload, input.at
	FROM input JOIN ins ON ins.id = input.id ORDER BY input.ord
), bump AS (
	INSERT INTO job_applicants AS c (job_id, shard, n)
	SELECT job_id, $12::integer, COUNT(*) FROM ins GROUP BY job_id ORDER BY job_id
	ON CONFLICT (job_id, shard) DO UPDATE SET n = c.n + excluded.n
)
SELECT id FROM ins`

// applicantShards is how many counter rows a job has at most on
// PostgreSQL: more than the commit batches that run at once.
const applicantShards = 16

// nextShard picks the counter shard of the next commit batch: round robin,
// so batches that run at the same time add to different rows.
func (db *DB) nextShard() int {
	n := max(db.shards, 1)
	return int(db.shard.Add(1) % uint32(n))
}

// pgRetryable reports whether a PostgreSQL statement failed as a whole
// for a reason a retry can cure (a deadlock or serialization failure: the
// statement was rolled back).
func pgRetryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// applyRetries bounds the attempts of one batch statement that keeps
// failing with pgRetryable errors.
const applyRetries = 5

// insertApplicationsPG is insertApplications for PostgreSQL, writing the
// outbox rows of the created applications in the same statement.
func insertApplicationsPG(ctx context.Context, x q, in []ApplyInput, ins []int, created map[live.ApplicationID]bool) error {
	var id, job, org, seeker, room, note, profile, idem, hash, payload []string
	var at []int64
	for _, i := range ins {
		a := in[i]
		p, err := profileSnapshot(a)
		if err != nil {
			return err
		}
		pl, _ := json.Marshal(OutboxApplicationData{ApplicationID: a.ID, JobID: a.JobID, JobTitle: a.JobTitle, At: a.At.UTC()})
		id, job, org, seeker = append(id, string(a.ID)), append(job, string(a.JobID)), append(org, string(a.OrgID)), append(seeker, string(a.SeekerID))
		room, note, profile, idem = append(room, string(a.RoomID)), append(note, a.Note), append(profile, p), append(idem, a.IdempotencyKey)
		hash, at, payload = append(hash, a.RequestHash), append(at, ts(a.At)), append(payload, string(pl))
	}
	var err error
	for attempt := 1; ; attempt++ {
		got := map[live.ApplicationID]bool{}
		rows, qerr := x.query(ctx, applyInsertPG, id, job, org, seeker, room, note, profile, idem, hash, at, payload, x.db.nextShard())
		if err = scanCreated(rows, qerr, got); err == nil {
			maps.Copy(created, got)
			return nil
		}
		if !pgRetryable(err) || attempt == applyRetries || ctx.Err() != nil {
			return err
		}
		x.db.applyRetries.Add(1)
		// The statement was rolled back as a whole: nothing of it is
		// committed, the same batch can run again.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
	}
}

// scanCreated reads the ids an INSERT … RETURNING id created.
func scanCreated(rows *sql.Rows, err error, created map[live.ApplicationID]bool) error {
	if err != nil {
		return fmt.Errorf("store: inserting applications: %w", err)
	}
	for rows.Next() {
		var id live.ApplicationID
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("store: inserting applications: %w", err)
		}
		created[id] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: inserting applications: %w", mapErr(err))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: inserting applications: %w", mapErr(err))
	}
	return nil
}
func newApp(a ApplyInput) live.Application {
	p := a.Profile
	if p.Skills == nil {
		p.Skills = []string{}
	}
	return live.Application{ID: a.ID, JobID: a.JobID, JobTitle: a.JobTitle, OrgID: a.OrgID, RoomID: a.RoomID, SeekerID: a.SeekerID,
		Status: live.AppNew, Note: a.Note, Profile: p, CreatedAt: a.At.UTC().Truncate(time.Microsecond),
		UpdatedAt: a.At.UTC().Truncate(time.Microsecond)}
}

// keyedResult answers a request whose idempotency key is already stored:
// the same request gets the stored application, a different one a 422.
func keyedResult(r applyRow, a ApplyInput) ApplyResult {
	if r.requestHash != a.RequestHash {
		return ApplyResult{Err: live.InvalidState("idempotency_key_reused",
			"this Idempotency-Key was already used for a different request")}
	}
	return ApplyResult{App: r.app}
}

func appsByKey(ctx context.Context, x q, in []ApplyInput) (map[seekerKey]applyRow, error) {
	var conds []string
	var args []any
	for _, a := range in {
		if a.IdempotencyKey != "" {
			conds = append(conds, "(a.seeker_id = ? AND a.idempotency_key = ?)")
			args = append(args, a.SeekerID, a.IdempotencyKey)
		}
	}
	out := map[seekerKey]applyRow{}
	if len(conds) == 0 {
		return out, nil
	}
	rows, err := x.query(ctx, "SELECT "+applyCols+applyFrom+" WHERE "+strings.Join(conds, " OR "), args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading applications by key: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanApplyRow(rows)
		if err != nil {
			return nil, err
		}
		out[seekerKey{r.app.SeekerID, r.idemKey}] = r
	}
	return out, mapErr(rows.Err())
}

func appsByJobSeeker(ctx context.Context, x q, keys []jobSeeker) (map[jobSeeker]applyRow, error) {
	out := map[jobSeeker]applyRow{}
	if len(keys) == 0 {
		return out, nil
	}
	conds := make([]string, 0, len(keys))
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		conds = append(conds, "(a.job_id = ? AND a.seeker_id = ?)")
		args = append(args, k.job, k.seeker)
	}
	rows, err := x.query(ctx, "SELECT "+applyCols+applyFrom+" WHERE "+strings.Join(conds, " OR "), args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading applications: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanApplyRow(rows)
		if err != nil {
			return nil, err
		}
		out[jobSeeker{r.app.JobID, r.app.SeekerID}] = r
	}
	return out, mapErr(rows.Err())
}

func writeApplyOutbox(ctx context.Context, x q, apps []ApplyInput) error {
	if len(apps) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO outbox (topic, room_id, org_id, user_id, payload, created_at) VALUES ")
	args := make([]any, 0, 6*len(apps))
	for n, a := range apps {
		if n > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, NULL, ?, ?)")
		payload, _ := json.Marshal(OutboxApplicationData{ApplicationID: a.ID, JobID: a.JobID, JobTitle: a.JobTitle, At: a.At.UTC()})
		args = append(args, OutboxApplication, nullStr(string(a.RoomID)), a.OrgID, string(payload), ts(a.At))
	}
	if _, err := x.exec(ctx, sb.String(), args...); err != nil {
		return fmt.Errorf("store: writing outbox: %w", err)
	}
	return nil
}

// OutboxItem is an event to deliver after the transaction that produced it
// committed (a new application → apply.count and the employer's feed).
// Payload is JSON with ids only.
type OutboxItem struct {
	ID      int64
	Topic   string
	RoomID  live.RoomID
	OrgID   live.OrgID
	UserID  live.UserID
	Payload string
	At      time.Time
}

// DeleteDeliveredOutbox removes rows delivered before cutoff.
func (db *DB) DeleteDeliveredOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.w().exec(ctx, "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", ts(cutoff))
	if err != nil {
		return 0, fmt.Errorf("store: purging outbox: %w", err)
	}
	return res.RowsAffected()
}

// outboxClaim is how long a relay owns the rows it claimed; if it dies
// mid-delivery they become claimable again after it.
const outboxClaim = 30 * time.Second

func init() {
	migrations = append(migrations, migration{Version: 3001, Name: "outbox claims", SQL: `
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT`})
	// job_applicants holds each job's number of applications, maintained
	// by CommitApplications in the statement (PostgreSQL) or transaction
	// (SQLite) that inserts them, so the live totals (apply.count, shelf
	// cards) are a primary-key read instead of a COUNT(*) over the job's
	// applications. A job's count is the sum of its rows: on PostgreSQL
	// concurrent commit batches add to different rows (shards), so they do
	// not queue on one hot row lock held until the other's WAL flush.
	// Applications are never deleted one by one (only with their job, org
	// or seeker, by cascade).
	migrations = append(migrations, migration{Version: 3002, Name: "applicant counters", SQL: `
CREATE TABLE job_applicants (
	job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	shard  INTEGER NOT NULL,
	n      BIGINT NOT NULL,
	PRIMARY KEY (job_id, shard)
);
INSERT INTO job_applicants (job_id, shard, n) SELECT job_id, 0, COUNT(*) FROM applications GROUP BY job_id`})
	// The relay's claim reads the oldest undelivered rows. Through
	// outbox_pending (delivered_at, id) PostgreSQL visited every version
	// ever indexed under delivered_at NULL — each delivered row leaves one
	// until vacuum — then sorted: 14–17 ms a claim at 45,000 rows, growing
	// with the fair. A partial index in id order lets the claim stop after
	// its LIMIT live rows (its index scan marks the dead entries it passes,
	// so the next claims skip them); the purge of delivered rows gets its
	// own partial index. outbox_pending goes, so the planner cannot fall
	// back to it on stale statistics.
	migrations = append(migrations, migration{Version: 3003, Name: "outbox: partial indexes for claim and purge", SQL: `
CREATE INDEX IF NOT EXISTS outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
DROP INDEX IF EXISTS outbox_pending`})
}

// DeliverOutbox claims up to limit undelivered outbox rows, oldest first,
// hands them to deliver outside any transaction, and marks the ones it
// accepted as delivered. The claim is atomic — one UPDATE … WHERE id IN
// (SELECT … FOR UPDATE SKIP LOCKED) RETURNING on PostgreSQL (one round
// trip), a short write transaction on SQLite (the single writer) — so
// relays on several nodes, or several handles on one SQLite file, never
// hand out the same row twice, and no lock is held while deliver talks to
// the broker. A relay that dies holding a claim loses it after 30 s.
// deliver returns how many items, from the start, it delivered; the rest
// are released with their attempt counted. It returns how many rows were
// marked delivered.
func (db *DB) DeliverOutbox(ctx context.Context, limit int, deliver func([]OutboxItem) int) (int, error) {
	if limit <= 0 {
		limit = 200
	}
	items, err := db.claimOutbox(ctx, limit)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	done := clamp(deliver(items), len(items))
	const delivered = "delivered_at = ?, claimed_until = NULL, attempts = attempts + 1"
	if done == len(items) {
		// The usual case: one statement, no explicit transaction.
		return done, updateOutbox(ctx, db.w(), delivered, []any{ts(db.nowTime())}, items)
	}
	err = db.tx(ctx, func(x q) error {
		if err := updateOutbox(ctx, x, delivered, []any{ts(db.nowTime())}, items[:done]); err != nil {
			return err
		}
		return updateOutbox(ctx, x, "claimed_until = NULL, attempts = attempts + 1", nil, items[done:])
	})
	return done, err
}

const outboxItemCols = `id, topic, COALESCE(room_id, ''), COALESCE(org_id, ''), COALESCE(user_id, ''), payload, created_at`

// claimOutbox claims up to limit deliverable rows for outboxClaim and
// returns them oldest first.
func (db *DB) claimOutbox(ctx context.Context, limit int) ([]OutboxItem, error) {
	now := db.nowTime()
	until := ts(now.Add(outboxClaim))
	if db.dialect == Postgres {
		rows, err := db.w().query(ctx, `UPDATE outbox SET claimed_until = ? WHERE id IN (
			SELECT id FROM outbox WHERE delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)
			ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING `+outboxItemCols, until, ts(now), limit)
		if err != nil {
			return nil, fmt.Errorf("store: claiming outbox: %w", err)
		}
		items, err := scanOutbox(rows)
		slices.SortFunc(items, func(a, b OutboxItem) int { return cmp.Compare(a.ID, b.ID) })
		return items, err
	}
	var items []OutboxItem
	err := db.tx(ctx, func(x q) error {
		rows, err := x.query(ctx, `SELECT `+outboxItemCols+` FROM outbox
			WHERE delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?`, ts(now), limit)
		if err != nil {
			return fmt.Errorf("store: reading outbox: %w", err)
		}
		if items, err = scanOutbox(rows); err != nil {
			return err
		}
		return updateOutbox(ctx, x, "claimed_until = ?", []any{until}, items)
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

func scanOutbox(rows *sql.Rows) ([]OutboxItem, error) {
	defer rows.Close()
	var items []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var at int64
		if err := rows.Scan(&it.ID, &it.Topic, &it.RoomID, &it.OrgID, &it.UserID, &it.Payload, &at); err != nil {
			return nil, fmt.Errorf("store: reading outbox: %w", err)
		}
		it.At = fromTS(at)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading outbox: %w", mapErr(err))
	}
	return items, nil
}

// updateOutbox applies set (with its leading args) to the given rows in
// one statement.
func updateOutbox(ctx context.Context, x q, set string, args []any, items []OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	for _, it := range items {
		args = append(args, it.ID)
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(items)), ", ")
	if _, err := x.exec(ctx, "UPDATE outbox SET "+set+" WHERE id IN ("+ph+")", args...); err != nil {
		return fmt.Errorf("store: marking outbox: %w", err)
	}
	return nil
}

func clamp(n, max int) int { return min(max, n) }

// ApplicationCounts returns the number of applications per job, for the
// given jobs (jobs without applications are absent from the map), counted
// over the applications themselves — the ground truth the applicant
// counters (ApplicantCounts) are checked against; live paths use those.
func (db *DB) ApplicationCounts(ctx context.Context, jobs []live.JobID) (map[live.JobID]int, error) {
	return db.countsByJob(ctx, "counting applications",
		"SELECT job_id, COUNT(*) FROM applications WHERE job_id IN (%s) GROUP BY job_id", jobs)
}

// ApplicantCounts returns the applicant counter of each given job (jobs
// with none are absent from the map): the same number as
// ApplicationCounts, summed over the job's counter rows (a primary-key
// range, at most 16 rows a job) instead of counted over its
// applications. The live totals use it.
func (db *DB) ApplicantCounts(ctx context.Context, jobs []live.JobID) (map[live.JobID]int, error) {
	return db.countsByJob(ctx, "reading applicant counts",
		"SELECT job_id, CAST(SUM(n) AS BIGINT) FROM job_applicants WHERE job_id IN (%s) GROUP BY job_id HAVING SUM(n) > 0", jobs)
}

// countsByJob runs query (job id and a number per row; the first %s is
// where the job ids' placeholders go) for jobs and returns the numbers by
// job.
func (db *DB) countsByJob(ctx context.Context, what, query string, jobs []live.JobID) (map[live.JobID]int, error) {
	out := map[live.JobID]int{}
	if len(jobs) == 0 {
		return out, nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(jobs)), ", ")
	args := make([]any, len(jobs))
	for i, j := range jobs {
		args[i] = j
	}
	rows, err := db.r().query(ctx, strings.Replace(query, "%s", ph, 1), args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var j live.JobID
		var n int
		if err := rows.Scan(&j, &n); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out[j] = n
	}
	return out, mapErr(rows.Err())
}

// Application returns one application, only if it belongs to org (the org
// is part of the query: an id guess from another org finds nothing).
func (db *DB) Application(ctx context.Context, org live.OrgID, id live.ApplicationID) (live.Application, error) {
	r, err := scanApplyRow(db.r().row(ctx, "SELECT "+applyCols+applyFrom+" WHERE a.id = ? AND a.org_id = ?", id, org))
	return r.app, one(err, "application")
}

// ApplicationOrg returns the org that owns an application (for routing a
// request to the org check); live.ErrNotFound if there is none.
func (db *DB) ApplicationOrg(ctx context.Context, id live.ApplicationID) (live.OrgID, error) {
	var org live.OrgID
	err := db.r().row(ctx, "SELECT org_id FROM applications WHERE id = ?", id).Scan(&org)
	return org, one(err, "application")
}
