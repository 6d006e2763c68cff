package rooms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"jobcast/live"
	"jobcast/store"
)

// ViewerCounter reports a room's viewer count across nodes (implemented by
// the real-time channel).
type ViewerCounter interface {
	Viewers(ctx context.Context, room live.RoomID) (int, error)
}

// Service is the rooms domain over storage. Create it with New.
type Service struct {
	db      *store.DB
	pub     atomic.Pointer[publisherBox]
	viewers atomic.Pointer[viewerBox]
	now     func() time.Time
	log     *slog.Logger
}

type publisherBox struct{ p live.Publisher }
type viewerBox struct{ v ViewerCounter }

var (
	_ live.Rooms       = (*Service)(nil)
	_ live.Snapshotter = (*Service)(nil)
)

// New returns the service. pub receives room.status events; it may be nil
// until SetPublisher wires it (the channel itself needs the Service first).
func New(db *store.DB, pub live.Publisher, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{db: db, now: time.Now, log: log}
	s.SetPublisher(pub)
	return s
}

// SetPublisher replaces the event publisher (nil disables publishing). Safe
// to call while serving.
func (s *Service) SetPublisher(p live.Publisher) { s.pub.Store(&publisherBox{p}) }

// SetViewerCounter sets where snapshots get the viewer count from (nil: 0).
// Safe to call while serving.
func (s *Service) SetViewerCounter(v ViewerCounter) { s.viewers.Store(&viewerBox{v}) }

func (s *Service) publish(ctx context.Context, room live.RoomID, ev live.Event) {
	b := s.pub.Load()
	if b == nil || b.p == nil {
		return
	}
	if _, err := b.p.Publish(ctx, room, ev); err != nil {
		// Storage is the truth; viewers catch up from the snapshot.
		s.log.WarnContext(ctx, "publishing room event failed", "room", room, "type", ev.Type, "err", err)
	}
}

func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, live.ErrNotFound):
		return live.NotFound(what)
	case errors.Is(err, live.ErrConflict):
		return live.Conflict("conflict", what+" already exists")
	}
	return err
}

// Access implements live.Rooms: the room and what id is in it, loaded from
// storage now. Unknown room: NotFound *live.Error. It blocks for a few reads.
func (s *Service) Access(ctx context.Context, room live.RoomID, id live.Identity) (live.Room, live.RoomAccess, error) {
	r, err := s.db.Room(ctx, room)
	if err != nil {
		return r, live.RoomAccess{}, storeErr(err, "room")
	}
	acc := live.RoomAccess{Identity: id}
	if !id.SignedIn() {
		return r, acc, nil
	}
	f, err := s.db.RoomAccessFacts(ctx, room, r.OrgID, id.UserID)
	if err != nil {
		return r, acc, err
	}
	acc.Host, acc.Moderator, acc.Advisor = f.Host, f.Moderator, f.Advisor
	acc.Exhibitors, acc.Banned, acc.MutedUntil = f.Exhibitors, f.Banned, f.MutedUntil
	acc.ProfileComplete, acc.MemberOf = f.ProfileComplete, f.MemberOf
	return r, acc, nil
}

// CheckStreamKey implements live.Rooms: whether key is the room's current
// stream key (constant-time compare of SHA-256 hashes). Unknown room:
// NotFound *live.Error.
func (s *Service) CheckStreamKey(ctx context.Context, room live.RoomID, key string) (bool, error) {
	k, err := s.db.StreamKey(ctx, room)
	if err != nil {
		return false, storeErr(err, "room")
	}
	if k.Hash == "" || key == "" || len(key) > 256 {
		return false, nil
	}
	got := hashKey(key)
	return subtle.ConstantTimeCompare([]byte(got), []byte(k.Hash)) == 1, nil
}

// SetStatus implements live.Rooms: moves the room along its lifecycle
// (InvalidState *live.Error if not allowed), persists it and, when the
// status changed, publishes a room.status event.
func (s *Service) SetStatus(ctx context.Context, room live.RoomID, to live.RoomStatus) (live.Room, error) {
	if !to.Valid() {
		return live.Room{}, live.Invalid("invalid_status", "status must be scheduled, live or ended")
	}
	r, changed, err := s.db.SetRoomStatus(ctx, room, to, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return r, storeErr(err, "room")
	}
	if changed {
		s.publish(ctx, room, live.NewEvent(live.EvRoomStatus, live.RoomStatusData{Status: r.Status}))
	}
	return r, nil
}

// Snapshot implements live.Snapshotter: the room, its shelf (with
// applicant counts), the pinned card and the exhibitor orgs.
func (s *Service) Snapshot(ctx context.Context, room live.RoomID) (live.RoomSnapshot, error) {
	r, err := s.db.Room(ctx, room)
	if err != nil {
		return live.RoomSnapshot{}, storeErr(err, "room")
	}
	shelf, err := s.db.Shelf(ctx, room)
	if err != nil {
		return live.RoomSnapshot{}, err
	}
	ex, err := s.db.Exhibitors(ctx, room)
	if err != nil {
		return live.RoomSnapshot{}, err
	}
	snap := live.RoomSnapshot{Room: r, Shelf: shelf, Exhibitors: ex}
	if r.PinnedJobID != "" {
		for i := range shelf {
			if shelf[i].JobID == r.PinnedJobID {
				card := shelf[i]
				snap.Pinned = &card
				break
			}
		}
		if snap.Pinned == nil {
			if card, err := s.db.JobCard(ctx, r.PinnedJobID); err == nil {
				snap.Pinned = &card
			}
		}
	}
	return snap, nil
}

func (s *Service) viewerCount(ctx context.Context, room live.RoomID) int {
	b := s.viewers.Load()
	if b == nil || b.v == nil {
		return 0
	}
	n, err := b.v.Viewers(ctx, room)
	if err != nil {
		return 0
	}
	return n
}

// Stream keys: "sk_" + 32 random bytes, base64url. Only the SHA-256 (hex)
// and the last 4 characters are stored.

func newStreamKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "sk_" + base64.RawURLEncoding.EncodeToString(b[:]), nil // auth.StreamKeyPrefix
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func keyHint(key string) string { return "…" + key[len(key)-4:] }

// RotateStreamKey issues a new stream key for the room, replacing the old
// one (which stops working at once), and returns it — the only time the
// full key is shown.
func (s *Service) RotateStreamKey(ctx context.Context, room live.RoomID) (string, store.StreamKeyInfo, error) {
	key, err := newStreamKey()
	if err != nil {
		return "", store.StreamKeyInfo{}, err
	}
	at := s.now().UTC().Truncate(time.Microsecond)
	info := store.StreamKeyInfo{Hash: hashKey(key), Hint: keyHint(key), RotatedAt: &at}
	if err := s.db.SetStreamKey(ctx, room, info.Hash, info.Hint, at); err != nil {
		return "", info, storeErr(err, "room")
	}
	return key, info, nil
}
