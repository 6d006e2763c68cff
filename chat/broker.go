package chat

import (
	"context"
	"errors"
	"time"

	"jobcast/live"
)

// Broker is the port between a node's hubs and the room streams shared by
// every node: it assigns each ordered event its seq, keeps a bounded history
// per room, fans events out to every node subscribed to the room, carries
// ephemeral notices to every node and sums presence. MemoryBroker and
// RedisBroker are its two implementations; one contract test runs against
// both.
//
// A Broker value is one node's view. All methods are safe for concurrent
// use; every method but Run returns promptly (bounded by ctx and the
// backend's round trip).
type Broker interface {
	// Run delivers publications, notices and resync signals for this node
	// to h until ctx is done. It blocks; call it once. Subscriptions made
	// before Run starts are honoured when it starts.
	Run(ctx context.Context, h Handler) error

	// Subscribe starts delivery of room's publications to this node. When
	// the subscription is in place (and again after every interruption of
	// it) the broker calls Handler.Resync(room): only publications after
	// that call are guaranteed to be delivered, so the hub reads Position
	// or History then. Unsubscribe stops it. Callers serialise Subscribe
	// and Unsubscribe per room.
	Subscribe(ctx context.Context, room live.RoomID) error
	Unsubscribe(ctx context.Context, room live.RoomID) error

	// Publish appends one ordered event to room's stream atomically: next
	// seq, history append (trimmed, with expiry), fan-out. tail is the
	// envelope after its seq: `"at":…,"data":…}` (see encodeTail).
	Publish(ctx context.Context, room live.RoomID, typ live.EventType, tail []byte) (Publication, error)

	// Position returns the room's current top seq and epoch, creating the
	// epoch if the stream has none.
	Position(ctx context.Context, room live.RoomID) (Position, error)

	// History returns every publication after since, in order and with no
	// gap (a deleted chat message is replaced by a chat.deleted tombstone
	// with the same seq), plus the position it read at. It returns
	// ErrUnrecoverable (and the current position) when epoch is not the
	// room's epoch or history no longer reaches back to since+1.
	History(ctx context.Context, room live.RoomID, since uint64, epoch string) ([]Publication, Position, error)

	// Remove replaces the chat message at seq in room's history with
	// tombstone (the bytes of a chat.deleted event with the same seq), so
	// late joiners and recovering clients never receive it. It reports
	// false when seq is not a chat message still in history. Idempotent.
	Remove(ctx context.Context, room live.RoomID, seq uint64, tombstone []byte) (bool, error)

	// Notify sends an ephemeral notice to every node (Handler.Notice).
	Notify(ctx context.Context, n Notice) error

	// Presence records that this node has local viewers in room (0 removes
	// the record) and returns the sum over all nodes whose record is fresh
	// (refreshed within the broker's presence TTL).
	Presence(ctx context.Context, room live.RoomID, local int) (int, error)

	// Throttle takes one token from the bucket named key, shared by every
	// node: one token per every, at most burst saved up (GCRA). It returns
	// 0 when the token was taken, else how long until one is available.
	// Chat rate limits and slow mode use it so that a user's limit holds
	// across all the nodes they are connected to.
	Throttle(ctx context.Context, key string, every time.Duration, burst int) (time.Duration, error)

	// Ping checks that the backend answers (for /readyz).
	Ping(ctx context.Context) error
}

// Handler receives what a Broker delivers to its node. The broker calls it
// from its delivery goroutine, in order per room; implementations must not
// block and must not call back into the broker.
type Handler interface {
	Publication(p Publication)
	Notice(n Notice)
	// Resync says that room's subscription was (re)established: anything
	// published before may have been missed and must be read from History.
	Resync(room live.RoomID)
	// NoticesLost says that this node's notice delivery was interrupted and
	// is back: notices sent meanwhile (they have no history) may never
	// arrive. Called after the re-established subscription is in place.
	NoticesLost()
}

// Position is a room stream's top: the seq of its latest event and the
// epoch that seq belongs to. A new epoch means history was lost and seqs
// start again.
type Position struct {
	Seq   uint64 `json:"seq"`
	Epoch string `json:"epoch"`
}

// Publication is one ordered event of a room's stream. Data is the complete
// envelope as sent to clients, with seq; the same bytes go to every
// recipient.
type Publication struct {
	Room  live.RoomID
	Seq   uint64
	Epoch string
	Type  live.EventType
	Data  []byte
}

// Target says which connections a Notice is for.
type Target string

const (
	ToRoom  Target = "room"  // every connection in Room
	ToUser  Target = "user"  // connections of User (in Room, or all rooms if Room is "")
	ToOrg   Target = "org"   // connections in Room of members of Org
	ToStaff Target = "staff" // host, moderator and admin connections in Room
	ToKick  Target = "kick"  // close connections of User (in Room, or all rooms), after Event if set
	// ToRefresh reloads what User is in Room (all rooms if Room is "") for
	// their open connections: staff and org routing follow role changes.
	ToRefresh Target = "refresh"
)

// Notice is an ephemeral event for a subset of connections on every node.
// Event is the encoded envelope (no seq). It crosses Redis: ids only, no
// personal data beyond what the event itself shows publicly.
type Notice struct {
	Target Target      `json:"t"`
	Room   live.RoomID `json:"r,omitempty"`
	User   live.UserID `json:"u,omitempty"`
	Org    live.OrgID  `json:"o,omitempty"`
	Event  []byte      `json:"e,omitempty"`
	Reason string      `json:"why,omitempty"` // close reason for kicks
}

// ErrUnrecoverable is returned by History when the requested range cannot
// be replayed without a gap (other epoch, trimmed or expired history).
var ErrUnrecoverable = errors.New("chat: history cannot be recovered")

// HistoryConfig bounds each room's history.
type HistoryConfig struct {
	// Size is how many recent events are kept per room (at least 500).
	Size int
	// TTL is how long a room's history outlives its latest event
	// (default 10 minutes).
	TTL time.Duration
	// MetaTTL is how long the room's seq and epoch outlive its latest
	// event (default 24 h). After it a new epoch starts.
	MetaTTL time.Duration
	// PresenceTTL is how long a node's viewer record counts without being
	// refreshed (default 20 s).
	PresenceTTL time.Duration
}

func (c HistoryConfig) withDefaults() HistoryConfig {
	if c.Size <= 0 {
		c.Size = 1000
	}
	if c.TTL <= 0 {
		c.TTL = 10 * time.Minute
	}
	if c.MetaTTL <= 0 {
		c.MetaTTL = 24 * time.Hour
	}
	if c.MetaTTL < c.TTL {
		c.MetaTTL = c.TTL
	}
	if c.PresenceTTL <= 0 {
		c.PresenceTTL = 20 * time.Second
	}
	return c
}
