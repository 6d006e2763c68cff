package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"jobcast/auth"
	"jobcast/live"
	"jobcast/store"
)

// Fair is what a load run needs from the server's data: the room, its
// host's session, the shelved jobs and the seekers' session tokens.
type Fair struct {
	Room      string   `json:"room"`
	Org       string   `json:"org"`
	HostToken string   `json:"host_token"`
	Jobs      []string `json:"jobs"`
	Seekers   []string `json:"seekers"`
}

// Seed writes a fair straight into the server's store (the same database
// the server uses: databaseURL, or the SQLite file in dataDir): a host with
// an org and a live room, jobs on its shelf, and seekers with complete
// profiles, each with a 24-hour session. Registering thousands through the
// rate-limited API would measure only argon2id. Accounts get an unusable
// password hash (nobody can log in with a password); emails use the
// reserved .invalid domain. It blocks until written or ctx ends.
func Seed(ctx context.Context, databaseURL, dataDir string, seekers, jobs int) (*Fair, error) {
	db, err := store.Open(ctx, databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	now := time.Now().UTC()
	run := fmt.Sprintf("%x", now.UnixNano())
	session := func(u live.UserID) (string, error) {
		var b [24]byte
		_, _ = rand.Read(b[:])
		tok := hex.EncodeToString(b[:])
		return tok, db.CreateSession(ctx, store.Session{TokenHash: auth.TokenHash(tok), UserID: u, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
	}
	user := func(name string) (live.UserID, error) {
		u := live.User{ID: live.NewID[live.UserID](), Email: name + "-" + run + "@load.invalid", Name: name, CreatedAt: now}
		return u.ID, db.CreateUser(ctx, u, "unusable")
	}
	f := &Fair{}
	host, err := user("load-host")
	if err != nil {
		return nil, fmt.Errorf("seeding host: %w", err)
	}
	if f.HostToken, err = session(host); err != nil {
		return nil, fmt.Errorf("seeding host session: %w", err)
	}
	org, room := live.NewID[live.OrgID](), live.NewID[live.RoomID]()
	if err := db.CreateOrg(ctx, live.Org{ID: org, Name: "Load test " + run, CreatedAt: now}, host); err != nil {
		return nil, fmt.Errorf("seeding org: %w", err)
	}
	if err := db.CreateRoom(ctx, live.Room{ID: room, OrgID: org, Title: "Load test " + run, Status: live.RoomLive,
		StartsAt: now, Settings: live.DefaultSettings(), CreatedAt: now}, host); err != nil {
		return nil, fmt.Errorf("seeding room: %w", err)
	}
	f.Org, f.Room = string(org), string(room)
	for i := range jobs {
		j := live.Job{ID: live.NewID[live.JobID](), OrgID: org, Title: fmt.Sprintf("Load job %d", i), City: "Wuhan",
			SalaryMin: 4000, SalaryMax: 6000, SalaryPeriod: live.PerMonth, Openings: 5, Tags: []string{}, Status: live.JobOpen,
			CreatedAt: now, UpdatedAt: now}
		if err := db.CreateJob(ctx, j); err != nil {
			return nil, fmt.Errorf("seeding job: %w", err)
		}
		if err := db.AddToShelf(ctx, room, j.ID, org); err != nil {
			return nil, fmt.Errorf("seeding shelf: %w", err)
		}
		f.Jobs = append(f.Jobs, string(j.ID))
	}
	for i := range seekers {
		u, err := user(fmt.Sprintf("load-seeker-%d", i))
		if err != nil {
			return nil, fmt.Errorf("seeding seeker: %w", err)
		}
		if _, err := db.PutProfile(ctx, u, live.Profile{FullName: fmt.Sprintf("Seeker %d", i), Phone: fmt.Sprintf("138%08d", i), City: "Wuhan"}); err != nil {
			return nil, fmt.Errorf("seeding profile: %w", err)
		}
		tok, err := session(u)
		if err != nil {
			return nil, fmt.Errorf("seeding seeker session: %w", err)
		}
		f.Seekers = append(f.Seekers, tok)
	}
	return f, nil
}

// StoredApplications counts the applications the store holds for the
// fair's jobs: after a run, every apply answered 201 must be there (none
// lost) and no more (none duplicated). It opens the store like Seed.
func StoredApplications(ctx context.Context, databaseURL, dataDir string, f *Fair) (int64, error) {
	db, err := store.Open(ctx, databaseURL, dataDir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	jobs := make([]live.JobID, len(f.Jobs))
	for i, j := range f.Jobs {
		jobs[i] = live.JobID(j)
	}
	counts, err := db.ApplicationCounts(ctx, jobs)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range counts {
		n += int64(c)
	}
	return n, nil
}

// CheckApplies records in the report how many applications the store holds
// against the 201 answers (Apply.Stored, Apply.Missing, Apply.Extra).
func (r *Report) CheckApplies(stored int64) {
	created := r.Apply.Outcomes["created"]
	r.Apply.Stored = &stored
	r.Apply.Missing = max(created-stored, 0)
	r.Apply.Extra = max(stored-created, 0)
}
