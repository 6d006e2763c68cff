package advisor

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/internal/ratelimit"
	"jobcast/live"
	"jobcast/store"
)

// Store is the storage the advisor tools need. *store.DB implements it.
type Store interface {
	RecordVisit(ctx context.Context, room live.RoomID, user live.UserID, seeker bool) error
	AskHelp(ctx context.Context, room live.RoomID, seeker live.UserID, note string, share bool) (store.HelpRequest, error)
	Staff(ctx context.Context, room live.RoomID) ([]store.StaffMember, error)
	RoomSeekers(ctx context.Context, room live.RoomID, f store.SeekerFilter, only live.UserID, limit, offset int) ([]store.RoomSeeker, bool, error)
	AppendAudit(ctx context.Context, e store.AuditEntry) error
	AddDirectMessage(ctx context.Context, m store.DirectMessage) (store.DirectMessage, error)
	DirectThread(ctx context.Context, room live.RoomID, seeker, advisor live.UserID, limit, offset int) ([]store.DirectMessage, bool, error)
	AddFollowUp(ctx context.Context, f store.FollowUp, audit store.AuditEntry) (store.FollowUp, error)
	FollowUps(ctx context.Context, room live.RoomID, seeker live.UserID, limit, offset int) ([]store.FollowUp, bool, error)
	Job(ctx context.Context, id live.JobID) (live.Job, error)
	RoomReport(ctx context.Context, room live.RoomID) (store.RoomReportCounts, error)
}

// Event types this package sends (ephemeral, to one user).
const (
	// EvHelpRequested tells a room's advisors that a seeker asked for help.
	EvHelpRequested live.EventType = "help.requested"
)

// Audit actions written by this package.
const (
	AuditViewSeeker = "advisor.view_seeker"
	AuditFollowUp   = "advisor.follow_up"
)

// Limits on what users type.
const (
	MaxHelpNote     = 500
	MaxMessage      = 1000
	MaxFollowUpNote = 2000
)

// Service serves the advisor tools and the room report. Safe for
// concurrent use; handlers block on storage only, never on a client.
type Service struct {
	db     Store
	rooms  live.Rooms
	notify live.Notifier
	log    *slog.Logger
	now    func() time.Time
	// Per-user limits: help requests notify every advisor of the room,
	// messages notify their recipient — neither may be used to flood.
	helpLimit *ratelimit.Keyed
	dmLimit   *ratelimit.Keyed
}

// New builds the service. notify delivers help.requested and dm events.
func New(db Store, rooms live.Rooms, notify live.Notifier, log *slog.Logger) *Service {
	return &Service{db: db, rooms: rooms, notify: notify, log: log, now: time.Now,
		helpLimit: ratelimit.New(ratelimit.Limit{Every: 20 * time.Second, Burst: 3}, 100_000),
		dmLimit:   ratelimit.New(ratelimit.Limit{Every: time.Second, Burst: 10}, 100_000)}
}

// allow applies a per-user limit, aborting with 429 and Retry-After.
func (s *Service) allow(c *gin.Context, k *ratelimit.Keyed, user live.UserID) bool {
	if ok, retry := k.Allow(string(user), s.now()); !ok {
		httpx.Fail(c, live.RateLimited(retry))
		return false
	}
	return true
}

// Register mounts the routes (see docs/api-advisor.md).
func (s *Service) Register(r gin.IRouter) {
	r.POST("/api/rooms/:room/help", s.help)
	r.GET("/api/rooms/:room/seekers", s.seekers)
	r.GET("/api/rooms/:room/seekers/:user", s.seeker)
	r.POST("/api/rooms/:room/messages/direct", s.sendDM)
	r.GET("/api/rooms/:room/messages/direct", s.thread)
	r.POST("/api/rooms/:room/followups", s.addFollowUp)
	r.GET("/api/rooms/:room/followups", s.followUps)
	r.GET("/api/rooms/:room/report", s.report)
	r.GET("/api/rooms/:room/report.csv", s.reportCSV)
}

// access loads the caller's access to the :room of the request; the caller
// must be signed in. It aborts the request and returns false on failure.
func (s *Service) access(c *gin.Context) (live.Room, live.RoomAccess, bool) {
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
	return room, acc, true
}

// advisorAccess is access plus live.ActAdvise.
func (s *Service) advisorAccess(c *gin.Context) (live.Room, live.RoomAccess, bool) {
	room, acc, ok := s.access(c)
	if !ok {
		return room, acc, false
	}
	if !acc.Can(live.ActAdvise) {
		httpx.Fail(c, live.Forbidden("only this room's career advisors and its host may do this"))
		return room, acc, false
	}
	return room, acc, true
}

// notifyUser sends ev to one user's connections. The change is already
// stored, so a broker failure is logged, not returned: the user reads it
// through the REST API.
func (s *Service) notifyUser(ctx context.Context, room live.RoomID, user live.UserID, ev live.Event) {
	if s.notify == nil {
		return
	}
	if err := s.notify.ToUser(context.WithoutCancel(ctx), room, user, ev); err != nil {
		s.log.Warn("notifying user", "room", room, "user", user, "type", ev.Type, "err", err)
	}
}
