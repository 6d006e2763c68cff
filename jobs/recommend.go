package jobs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// RecommendStore is the storage the recommendation pusher needs. *store.DB
// implements it.
type RecommendStore interface {
	Profile(ctx context.Context, user live.UserID) (live.Profile, error)
	OpenShelvedJobs(ctx context.Context, room live.RoomID, limit int) ([]store.ShelvedJob, error)
	AppliedJobs(ctx context.Context, seeker live.UserID) (map[live.JobID]bool, error)
	ApplicantCounts(ctx context.Context, jobs []live.JobID) (map[live.JobID]int, error)
	RecordVisit(ctx context.Context, room live.RoomID, user live.UserID, seeker bool) error
	RecordRecommendations(ctx context.Context, room live.RoomID, user live.UserID, n int) error
	RecentSeekers(ctx context.Context, room live.RoomID, since time.Time, limit int) ([]live.UserID, error)
}

// RecommendationsData is the payload of the per-user `recommendations`
// event and of GET /api/rooms/:room/recommendations: job cards with their
// reasons and rooms — no personal data. Complete is false when fewer than
// MinRecommendations open jobs exist anywhere; Count is len(Jobs).
type RecommendationsData struct {
	RoomID   live.RoomID      `json:"room_id"`
	Jobs     []Recommendation `json:"jobs"`
	Complete bool             `json:"complete"`
	Count    int              `json:"count"`
}

// Recommender pushes each seeker their own ranked jobs (精准推送): when
// they join a room (Joined, the channel's join hook) and when a room's
// shelf changes (ShelfChanged, the Shelf's OnChange). Pushes go through
// the Notifier's per-user path, so they reach the seeker on whichever node
// they are connected, and every push is recorded for the room's report.
//
// Hooks never block: they queue work for the Recommender's own workers
// (Start, Close). Safe for concurrent use.
type Recommender struct {
	db     RecommendStore
	rooms  live.Rooms
	notify live.Notifier
	log    *slog.Logger

	// Max is the most jobs in one push (≥ MinRecommendations; default 10).
	Max int
	// Recent is how long after their last visit a seeker still gets a
	// re-push when the shelf changes (default 2 h).
	Recent time.Duration

	queue  chan recTask
	mu     sync.Mutex
	shelf  map[live.RoomID]bool // rooms with a shelf re-push queued (coalesced)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  sync.Once
}

type recTask struct {
	room  live.RoomID
	id    live.Identity
	shelf bool
}

// Candidate and re-push bounds.
const (
	maxCandidates   = 1000
	maxShelfRepush  = 2000
	recQueue        = 4096
	recWorkers      = 2
	defaultRecMax   = 10
	defaultRecently = 2 * time.Hour
)

// NewRecommender builds the pusher; call Start to run its workers and
// Close to stop them.
func NewRecommender(db RecommendStore, rooms live.Rooms, notify live.Notifier, log *slog.Logger) *Recommender {
	ctx, cancel := context.WithCancel(context.Background())
	return &Recommender{db: db, rooms: rooms, notify: notify, log: log, Max: defaultRecMax, Recent: defaultRecently,
		queue: make(chan recTask, recQueue), shelf: map[live.RoomID]bool{}, ctx: ctx, cancel: cancel}
}

// Start runs the workers until Close. Calling it again does nothing.
func (r *Recommender) Start() {
	r.start.Do(func() {
		for range recWorkers {
			r.wg.Add(1)
			go r.work()
		}
	})
}

// Close stops the workers and waits for them; queued work is dropped (a
// seeker who misses a push still reads GET …/recommendations).
func (r *Recommender) Close() {
	r.cancel()
	r.wg.Wait()
}

func (r *Recommender) work() {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case t := <-r.queue:
			if t.shelf {
				r.mu.Lock()
				delete(r.shelf, t.room)
				r.mu.Unlock()
				r.repushShelf(r.ctx, t.room)
				continue
			}
			if _, err := r.Push(r.ctx, t.room, t.id); err != nil && r.ctx.Err() == nil {
				r.log.Warn("pushing recommendations", "room", t.room, "user", t.id.UserID, "err", err)
			}
		}
	}
}

func (r *Recommender) enqueue(t recTask) bool {
	select {
	case r.queue <- t:
		return true
	default:
		r.log.Warn("recommendation queue full; push dropped", "room", t.room)
		return false
	}
}

// Joined is the channel's join hook: it records the visit of a signed-in
// user and pushes a seeker their recommendations. It does not block (the
// work is queued); visitors who are not signed in are ignored.
func (r *Recommender) Joined(room live.RoomID, id live.Identity) {
	if !id.SignedIn() {
		return
	}
	r.enqueue(recTask{room: room, id: id})
}

// ShelfChanged is the Shelf's OnChange hook: it re-pushes recommendations
// to the seekers seen in room within Recent. It does not block; changes to
// one room's shelf that arrive while a re-push is queued coalesce.
func (r *Recommender) ShelfChanged(room live.RoomID) {
	r.mu.Lock()
	if r.shelf[room] {
		r.mu.Unlock()
		return
	}
	r.shelf[room] = true
	r.mu.Unlock()
	if !r.enqueue(recTask{room: room, shelf: true}) {
		r.mu.Lock()
		delete(r.shelf, room)
		r.mu.Unlock()
	}
}

func (r *Recommender) repushShelf(ctx context.Context, room live.RoomID) {
	users, err := r.db.RecentSeekers(ctx, room, time.Now().Add(-r.Recent), maxShelfRepush)
	if err != nil {
		r.log.Warn("reading recent seekers", "room", room, "err", err)
		return
	}
	for _, u := range users {
		if ctx.Err() != nil {
			return
		}
		if _, err := r.push(ctx, room, live.Identity{UserID: u}, false); err != nil && ctx.Err() == nil {
			r.log.Warn("re-pushing recommendations", "room", room, "user", u, "err", err)
		}
	}
}

// Push records id's visit to room and, if id is a seeker there (signed in,
// no staff or exhibitor role, not banned), builds their recommendations,
// sends them to id alone and records the push. It returns what was sent
// (zero and nil error when id is not a seeker). It blocks on storage.
func (r *Recommender) Push(ctx context.Context, room live.RoomID, id live.Identity) (RecommendationsData, error) {
	return r.push(ctx, room, id, true)
}

func (r *Recommender) push(ctx context.Context, room live.RoomID, id live.Identity, visit bool) (RecommendationsData, error) {
	if !id.SignedIn() {
		return RecommendationsData{}, nil
	}
	_, acc, err := r.rooms.Access(ctx, room, id)
	if err != nil {
		return RecommendationsData{}, err
	}
	seeker := acc.Role() == live.RoleSeeker && acc.Can(live.ActWatch)
	if visit {
		if err := r.db.RecordVisit(ctx, room, id.UserID, seeker); err != nil {
			return RecommendationsData{}, err
		}
	}
	if !seeker {
		return RecommendationsData{}, nil
	}
	data, err := r.For(ctx, room, id.UserID)
	if err != nil {
		return data, err
	}
	if err := r.notify.ToUser(ctx, room, id.UserID, live.NewEvent(live.EvRecommendations, data)); err != nil {
		return data, err
	}
	return data, r.db.RecordRecommendations(ctx, room, id.UserID, data.Count)
}

// For ranks the open jobs for user in room: the room's shelf first and,
// so that at least MinRecommendations fit, open jobs on the shelves of
// other live or scheduled rooms. It neither sends nor records anything.
// It blocks on storage.
func (r *Recommender) For(ctx context.Context, room live.RoomID, user live.UserID) (RecommendationsData, error) {
	p, err := r.db.Profile(ctx, user)
	if err != nil && !errors.Is(err, live.ErrNotFound) {
		return RecommendationsData{}, err
	}
	shelved, err := r.db.OpenShelvedJobs(ctx, room, maxCandidates)
	if err != nil {
		return RecommendationsData{}, err
	}
	applied, err := r.db.AppliedJobs(ctx, user)
	if err != nil {
		return RecommendationsData{}, err
	}
	cands := make([]Candidate, len(shelved))
	for i, s := range shelved {
		cands[i] = Candidate{Job: s.Job, RoomID: s.RoomID, OnShelf: s.RoomID == room}
	}
	recs := Recommend(p, cands, applied, r.Max)
	if len(recs) > 0 {
		ids := make([]live.JobID, len(recs))
		for i, rc := range recs {
			ids[i] = rc.Card.JobID
		}
		counts, err := r.db.ApplicantCounts(ctx, ids)
		if err != nil {
			return RecommendationsData{}, err
		}
		for i := range recs {
			recs[i].Card.Applicants = counts[recs[i].Card.JobID]
		}
	}
	if recs == nil {
		recs = []Recommendation{}
	}
	return RecommendationsData{RoomID: room, Jobs: recs, Complete: len(recs) >= MinRecommendations, Count: len(recs)}, nil
}

// Register mounts GET /api/rooms/:room/recommendations: the signed-in
// caller's own recommendations (the same data as the event). A seeker's
// read counts as a delivery in the room's report.
func (r *Recommender) Register(g gin.IRouter) {
	g.GET("/api/rooms/:room/recommendations", r.get)
}

func (r *Recommender) get(c *gin.Context) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return
	}
	roomID, ok := httpx.Param[live.RoomID](c, "room", "room id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	_, acc, err := r.rooms.Access(ctx, roomID, id)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !acc.Can(live.ActWatch) {
		httpx.Fail(c, live.Forbidden("you are banned from this room"))
		return
	}
	data, err := r.For(ctx, roomID, id.UserID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if acc.Role() == live.RoleSeeker {
		if err := r.db.RecordRecommendations(ctx, roomID, id.UserID, data.Count); err != nil {
			r.log.Warn("recording recommendations", "room", roomID, "err", err)
		}
	}
	c.JSON(http.StatusOK, data)
}
