package live

import "context"

// Publisher appends an event to a room's ordered stream and fans it out to
// every node's viewers of that room. The returned seq is the event's place in
// the room's stream (global across nodes). Only ordered event types may be
// published. Implemented by chat; used by jobs, signaling and moderation.
// Safe for concurrent use; it does not wait for delivery to clients.
type Publisher interface {
	Publish(ctx context.Context, room RoomID, ev Event) (seq uint64, err error)
}

// Notifier delivers ephemeral events to a subset of connections on whichever
// node they are. Payloads cross Redis: ids only, no personal data.
// Implemented by chat. Safe for concurrent use; never blocks on a client.
type Notifier interface {
	// ToRoom sends an ephemeral event to every connection in the room.
	ToRoom(ctx context.Context, room RoomID, ev Event) error
	// ToUser sends an event to every connection of one user (any room, or
	// only the given room when room is not "").
	ToUser(ctx context.Context, room RoomID, user UserID, ev Event) error
	// ToOrg sends an event to the connections in the room of users who are
	// members of org (the employer's live applicant feed).
	ToOrg(ctx context.Context, room RoomID, org OrgID, ev Event) error
	// Kick closes every connection of user in room (all rooms when room is
	// "") on every node, after sending ev if it is not the zero Event. Used
	// for bans and logout. Media sessions subscribe through OnKick.
	Kick(ctx context.Context, room RoomID, user UserID, ev Event) error
}

// Kicked is a node-local callback for kicks (bans, logout), so that media
// sessions of the user close too. room is "" for every room.
type Kicked func(room RoomID, user UserID)

// Sessions resolves a session token (from the session cookie, an
// Authorization: Bearer header or a ?token= query) to an identity.
// An empty token is the anonymous visitor (zero Identity, nil error); an
// unknown, expired or revoked token is an Unauthenticated *Error.
// Implemented by auth. Safe for concurrent use.
type Sessions interface {
	IdentifyToken(ctx context.Context, token string) (Identity, error)
}

// Rooms answers who may do what in a room and moves rooms through their
// lifecycle. Implemented by the rooms service over storage; used by chat,
// signaling and jobs. Safe for concurrent use.
type Rooms interface {
	// Access loads the room and what id is in it (host, moderator, banned,
	// muted, exhibitor orgs, org memberships). Unknown room: NotFound *Error.
	Access(ctx context.Context, room RoomID, id Identity) (Room, RoomAccess, error)
	// CheckStreamKey reports whether key is the room's current stream key
	// (constant-time compare against the stored hash).
	CheckStreamKey(ctx context.Context, room RoomID, key string) (bool, error)
	// SetStatus moves the room along its lifecycle (InvalidState *Error if
	// not allowed), persists it and publishes a room.status event.
	SetStatus(ctx context.Context, room RoomID, to RoomStatus) (Room, error)
}

// RoomSnapshot is the state a viewer needs on joining (the welcome event):
// the room, the job shelf, the pinned card, the exhibitor orgs.
type RoomSnapshot struct {
	Room       Room      `json:"room"`
	Shelf      []JobCard `json:"shelf"`
	Pinned     *JobCard  `json:"pinned"`
	Exhibitors []Org     `json:"exhibitors"`
}

// Snapshotter builds a room's snapshot. Implemented by the rooms/jobs
// services; used by chat for welcome and recovery. Safe for concurrent use.
type Snapshotter interface {
	Snapshot(ctx context.Context, room RoomID) (RoomSnapshot, error)
}
