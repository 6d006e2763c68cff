package jobs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
)

// ShelfStore is the storage the shelf and pin endpoints need. *store.DB
// implements it.
type ShelfStore interface {
	Job(ctx context.Context, id live.JobID) (live.Job, error)
	JobCard(ctx context.Context, id live.JobID) (live.JobCard, error)
	Shelf(ctx context.Context, room live.RoomID) ([]live.JobCard, error)
	OnShelf(ctx context.Context, room live.RoomID, job live.JobID) (live.Job, error)
	AddToShelf(ctx context.Context, room live.RoomID, job live.JobID, byOrg live.OrgID) error
	RemoveFromShelf(ctx context.Context, room live.RoomID, job live.JobID) (bool, error)
	Pin(ctx context.Context, room live.RoomID, job live.JobID, byOrg live.OrgID) error
	Unpin(ctx context.Context, room live.RoomID) (live.JobID, error)
	Exhibitors(ctx context.Context, room live.RoomID) ([]live.Org, error)
}

// Shelf serves a room's job shelf and pinned card: who may change them
// (host, moderators, and exhibitors for their own org's jobs), the change in
// the database, then the event on the room stream so every viewer sees the
// same shelf and card. Safe for concurrent use.
type Shelf struct {
	db    ShelfStore
	rooms live.Rooms
	pub   live.Publisher
	log   *slog.Logger
	// OnChange, if set, is called after the shelf of a room changed (the
	// recommendation pusher listens). It must not block.
	OnChange func(room live.RoomID)
}

// NewShelf builds the shelf service.
func NewShelf(db ShelfStore, rooms live.Rooms, pub live.Publisher, log *slog.Logger) *Shelf {
	return &Shelf{db: db, rooms: rooms, pub: pub, log: log}
}

// Register mounts the shelf and pin routes.
func (s *Shelf) Register(r gin.IRouter) {
	r.GET("/api/rooms/:room/shelf", s.list)
	r.POST("/api/rooms/:room/shelf", s.add)
	r.DELETE("/api/rooms/:room/shelf/:job", s.remove)
	r.POST("/api/rooms/:room/pin", s.pin)
	r.DELETE("/api/rooms/:room/pin", s.unpin)
}

type jobRef struct {
	JobID string `json:"job_id"`
}

// bindJobRef reads a {"job_id"} body, aborting with the error shape (and
// returning false) when it is malformed or the id is not a UUID.
func bindJobRef(c *gin.Context) (live.JobID, bool) {
	var body jobRef
	if !httpx.Bind(c, &body) {
		return "", false
	}
	id, err := live.ParseID[live.JobID](body.JobID, "job_id")
	if err != nil {
		httpx.Fail(c, err)
		return "", false
	}
	return id, true
}

// roomFor loads the room and the caller's access, requiring act.
func (s *Shelf) roomFor(c *gin.Context, act live.Action) (live.Room, live.RoomAccess, bool) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return live.Room{}, live.RoomAccess{}, false
	}
	roomID, ok := httpx.Param[live.RoomID](c, "room", "room id")
	if !ok {
		return live.Room{}, live.RoomAccess{}, false
	}
	room, acc, err := s.rooms.Access(c.Request.Context(), roomID, id)
	if err != nil {
		httpx.Fail(c, err)
		return room, acc, false
	}
	if !acc.Can(act) {
		httpx.Fail(c, live.Forbidden("only the host, moderators and exhibitors of this room may change its shelf"))
		return room, acc, false
	}
	if room.Status == live.RoomEnded {
		httpx.Fail(c, live.InvalidState("room_ended", "the room has ended"))
		return room, acc, false
	}
	return room, acc, true
}

// mayTouch checks the per-job rule: exhibitors only their own org's jobs,
// and only jobs of orgs taking part in the room.
func (s *Shelf) mayTouch(c *gin.Context, room live.Room, acc live.RoomAccess, jobOrg live.OrgID) bool {
	exh, err := s.db.Exhibitors(c.Request.Context(), room.ID)
	if err != nil {
		httpx.Fail(c, err)
		return false
	}
	orgs := make([]live.OrgID, len(exh))
	for i, o := range exh {
		orgs[i] = o.ID
	}
	if !acc.CanTouchJob(jobOrg, room.OrgID, orgs) {
		httpx.Fail(c, live.Forbidden("you may only present your own org's jobs, and only orgs taking part in this room"))
		return false
	}
	return true
}

func (s *Shelf) list(c *gin.Context) {
	roomID, ok := httpx.Param[live.RoomID](c, "room", "room id")
	if !ok {
		return
	}
	_, acc, err := s.rooms.Access(c.Request.Context(), roomID, httpx.Identity(c))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !acc.Can(live.ActWatch) {
		httpx.Fail(c, live.Forbidden("you are banned from this room"))
		return
	}
	cards, err := s.db.Shelf(c.Request.Context(), roomID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if tag := c.Query("tag"); tag != "" {
		kept := cards[:0]
		for _, card := range cards {
			for _, t := range card.Tags {
				if t == tag {
					kept = append(kept, card)
					break
				}
			}
		}
		cards = kept
	}
	c.JSON(http.StatusOK, gin.H{"jobs": cards})
}

func (s *Shelf) add(c *gin.Context) {
	room, acc, ok := s.roomFor(c, live.ActShelf)
	if !ok {
		return
	}
	jobID, ok := bindJobRef(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	job, err := s.db.Job(ctx, jobID)
	if err != nil {
		httpx.Fail(c, storeErr(err, "job"))
		return
	}
	if !s.mayTouch(c, room, acc, job.OrgID) {
		return
	}
	if job.Status != live.JobOpen {
		httpx.Fail(c, live.InvalidState("job_closed", "a closed job cannot be put on the shelf"))
		return
	}
	if err := s.db.AddToShelf(ctx, room.ID, jobID, job.OrgID); err != nil {
		if errors.Is(err, live.ErrConflict) {
			err = live.Conflict("already_on_shelf", "the job is on the shelf already")
		}
		httpx.Fail(c, err)
		return
	}
	cards := s.publishShelf(ctx, room.ID)
	c.JSON(http.StatusCreated, gin.H{"jobs": cards})
}

func (s *Shelf) remove(c *gin.Context) {
	room, acc, ok := s.roomFor(c, live.ActShelf)
	if !ok {
		return
	}
	jobID, ok := httpx.Param[live.JobID](c, "job", "job id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	job, err := s.db.OnShelf(ctx, room.ID, jobID)
	if err != nil {
		httpx.Fail(c, storeErr(err, "job on this shelf"))
		return
	}
	if !s.mayTouch(c, room, acc, job.OrgID) {
		return
	}
	wasPinned, err := s.db.RemoveFromShelf(ctx, room.ID, jobID)
	if err != nil {
		httpx.Fail(c, storeErr(err, "job on this shelf"))
		return
	}
	if wasPinned {
		s.publish(ctx, room.ID, live.NewEvent(live.EvUnpin, live.UnpinData{JobID: jobID}))
	}
	cards := s.publishShelf(ctx, room.ID)
	c.JSON(http.StatusOK, gin.H{"jobs": cards})
}

func (s *Shelf) pin(c *gin.Context) {
	room, acc, ok := s.roomFor(c, live.ActPin)
	if !ok {
		return
	}
	jobID, ok := bindJobRef(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	job, err := s.db.OnShelf(ctx, room.ID, jobID)
	if err != nil {
		httpx.Fail(c, storeErr(err, "job on this shelf"))
		return
	}
	if !s.mayTouch(c, room, acc, job.OrgID) {
		return
	}
	if job.Status != live.JobOpen {
		httpx.Fail(c, live.InvalidState("job_closed", "a closed job cannot be pinned"))
		return
	}
	if err := s.db.Pin(ctx, room.ID, jobID, job.OrgID); err != nil {
		httpx.Fail(c, storeErr(err, "job on this shelf"))
		return
	}
	card, err := s.db.JobCard(ctx, jobID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s.publish(ctx, room.ID, live.NewEvent(live.EvPin, live.PinData{Card: card, By: job.OrgID}))
	c.JSON(http.StatusOK, gin.H{"pinned": card})
}

func (s *Shelf) unpin(c *gin.Context) {
	room, acc, ok := s.roomFor(c, live.ActPin)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if room.PinnedJobID == "" {
		c.JSON(http.StatusOK, gin.H{"pinned": nil})
		return
	}
	job, err := s.db.Job(ctx, room.PinnedJobID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !s.mayTouch(c, room, acc, job.OrgID) {
		return
	}
	prev, err := s.db.Unpin(ctx, room.ID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if prev != "" {
		s.publish(ctx, room.ID, live.NewEvent(live.EvUnpin, live.UnpinData{JobID: prev}))
	}
	c.JSON(http.StatusOK, gin.H{"pinned": nil})
}

// publishShelf reads the shelf back and publishes it whole; it returns the
// cards (nil on a read error, which is logged).
func (s *Shelf) publishShelf(ctx context.Context, room live.RoomID) []live.JobCard {
	cards, err := s.db.Shelf(ctx, room)
	if err != nil {
		s.log.Error("reading shelf after change", "room", room, "err", err)
		return nil
	}
	s.publish(ctx, room, live.NewEvent(live.EvShelf, live.ShelfData{Jobs: cards}))
	if s.OnChange != nil {
		s.OnChange(room)
	}
	return cards
}

// publish sends a committed change to viewers. The database already holds
// it, so a broker failure is logged, not returned: viewers that miss the
// event get the state from the welcome snapshot when they reconnect.
func (s *Shelf) publish(ctx context.Context, room live.RoomID, ev live.Event) {
	if s.pub == nil {
		return
	}
	if _, err := s.pub.Publish(context.WithoutCancel(ctx), room, ev); err != nil {
		s.log.Error("publishing room event", "room", room, "type", ev.Type, "err", err)
	}
}
