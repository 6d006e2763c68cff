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
