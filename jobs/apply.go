package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/internal/coalesce"
	"jobcast/internal/ratelimit"
	"jobcast/live"
	"jobcast/store"
)

// ApplyStore is the storage the apply endpoint reads before committing.
// *store.DB implements it.
type ApplyStore interface {
	// ApplyFacts reads the ban, the shelf entry and the profile in one
	// round trip; live.ErrNotFound for an unknown room.
	ApplyFacts(ctx context.Context, room live.RoomID, job live.JobID, user live.UserID) (store.ApplyFacts, error)
	// ApplyFactsBatch is ApplyFacts for many applies at once (one result
	// or error per key, in order).
	ApplyFactsBatch(ctx context.Context, keys []store.ApplyFactsKey) ([]store.ApplyFacts, []error, error)
	ApplicationBySeekerJob(ctx context.Context, seeker live.UserID, job live.JobID) (live.Application, error)
}

// Apply serves one-tap apply: POST /api/rooms/:room/jobs/:job/apply. The
// application (with a snapshot of the profile and the source room) is
// committed before the answer, through the Committer's group commit; the
// broker is never on that path — the Relay tells viewers and the employer
// afterwards. Safe for concurrent use.
type Apply struct {
	db     ApplyStore
	facts  *coalesce.Reads[store.ApplyFactsKey, store.ApplyFacts] // nil: one read per apply
	commit *Committer
	relay  *Relay
	limit  *ratelimit.Keyed
	log    *slog.Logger
	now    func() time.Time
}

// factsLanes is how many coalesced facts reads run at once (each holds one
// pooled connection while it runs).
const factsLanes = 4

// MaxApplyNote is the longest note a seeker may add to an application.
const MaxApplyNote = 500

// NewApply builds the apply endpoint. perMinute caps applies per seeker (a
// burst of the same size is allowed).
//
// rooms is not consulted: the only room fact apply needs is the ban, and
// db.ApplyFacts reads it with the shelf entry and the profile in one round
// trip (live.Rooms.Access would cost six). The parameter stays so the
// wiring does not change.
func NewApply(db ApplyStore, rooms live.Rooms, commit *Committer, relay *Relay, perMinute int, log *slog.Logger) *Apply {
	_ = rooms
	if perMinute <= 0 {
		perMinute = 10
	}
	var facts *coalesce.Reads[store.ApplyFactsKey, store.ApplyFacts]
	if d, ok := db.(interface{ Dialect() store.Dialect }); ok && d.Dialect() == store.Postgres {
		// Concurrent applies share their facts read (one round trip for a
		// batch): a burst of thousands of taps costs a few dozen queries
		// instead of thousands, and leaves the pool to the commits. On
		// SQLite reads are local calls; nothing to save.
		facts = coalesce.New(factsLanes, 256, 10*time.Second, func(ctx context.Context, keys []store.ApplyFactsKey) ([]coalesce.Result[store.ApplyFacts], error) {
			fs, errs, err := db.ApplyFactsBatch(ctx, keys)
			if err != nil {
				return nil, err
			}
			out := make([]coalesce.Result[store.ApplyFacts], len(keys))
			for i := range out {
				out[i] = coalesce.Result[store.ApplyFacts]{Val: fs[i], Err: errs[i]}
			}
			return out, nil
		})
	}
	return &Apply{db: db, facts: facts, commit: commit, relay: relay, log: log, now: time.Now,
		limit: ratelimit.New(ratelimit.Limit{Every: time.Minute / time.Duration(perMinute), Burst: perMinute}, 100_000)}
}

// Register mounts the apply route.
func (a *Apply) Register(r gin.IRouter) {
	r.POST("/api/rooms/:room/jobs/:job/apply", a.apply)
}

type applyBody struct {
	Note string `json:"note"`
}

func (a *Apply) apply(c *gin.Context) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return
	}
	roomID, ok := httpx.Param[live.RoomID](c, "room", "room id")
	if !ok {
		return
	}
	jobID, ok := httpx.Param[live.JobID](c, "job", "job id")
	if !ok {
		return
	}
	var body applyBody
	if c.Request.ContentLength != 0 {
		if !httpx.Bind(c, &body) {
			return
		}
	}
	body.Note = strings.TrimSpace(body.Note)
	if utf8.RuneCountInString(body.Note) > MaxApplyNote {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "note is at most 500 characters", Fields: []string{"note"}})
		return
	}
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 128 || strings.ContainsAny(key, "\r\n") {
		httpx.Fail(c, live.Invalid("invalid_idempotency_key", "Idempotency-Key must be at most 128 characters"))
		return
	}
	if ok, retry := a.limit.Allow(string(id.UserID), a.now()); !ok {
		httpx.Fail(c, live.RateLimited(retry))
		return
	}
	ctx := c.Request.Context()
	// One read for the ban, the shelf entry and the profile (the session
	// was read by the auth middleware): two round trips before the commit.
	var f store.ApplyFacts
	var err error
	if a.facts != nil {
		f, err = a.facts.Do(ctx, store.ApplyFactsKey{Room: roomID, Job: jobID, User: id.UserID})
	} else {
		f, err = a.db.ApplyFacts(ctx, roomID, jobID, id.UserID)
	}
	if err != nil {
		httpx.Fail(c, storeErr(err, "room"))
		return
	}
	if f.Banned && !id.Admin {
		httpx.Fail(c, &live.Error{Kind: live.KindForbidden, Code: "banned", Message: "you are banned from this room"})
		return
	}
	if !f.OnShelf {
		httpx.Fail(c, live.NotFound("job on this room's shelf"))
		return
	}
	job, profile := f.Job, f.Profile
	// A repeat must get its application even if the job closed or the
	// profile changed since: look for it before refusing.
	refuse := func(e *live.Error) {
		if prev, err := a.db.ApplicationBySeekerJob(ctx, id.UserID, jobID); err == nil {
			c.JSON(http.StatusOK, gin.H{"application": prev, "created": false})
			return
		}
		httpx.Fail(c, e)
	}
	if job.Status != live.JobOpen {
		refuse(live.InvalidState("job_closed", "this job no longer takes applications"))
		return
	}
	if missing := profile.Missing(); len(missing) > 0 {
		refuse(&live.Error{Kind: live.KindConflict, Code: "profile_incomplete",
			Message: "add your name and phone to your profile to apply", Fields: missing})
		return
	}
	res, err := a.commit.Commit(ctx, store.ApplyInput{
		ID: live.NewID[live.ApplicationID](), JobID: job.ID, OrgID: job.OrgID, SeekerID: id.UserID, RoomID: roomID,
		Note: body.Note, Profile: profile, IdempotencyKey: key, RequestHash: requestHash(roomID, job.ID, body.Note),
		JobTitle: job.Title, At: a.now(),
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// The client went away; the apply may still commit, and a
			// retry finds it.
			return
		}
		httpx.Fail(c, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		a.relay.Kick()
	}
	c.JSON(status, gin.H{"application": res.App, "created": res.Created})
}

// requestHash fingerprints what an apply asked for, to tell a retry (same
// Idempotency-Key, same request) from a reuse of the key.
func requestHash(room live.RoomID, job live.JobID, note string) string {
	h := sha256.Sum256([]byte(string(room) + "\x00" + string(job) + "\x00" + note))
	return hex.EncodeToString(h[:16])
}
