// Package rooms owns broadcasts: creating and listing rooms, the public
// room snapshot, exhibitor orgs, moderators and advisors, the stream key
// and the room lifecycle (scheduled → live → ended).
//
// Service implements live.Rooms (Access, CheckStreamKey, SetStatus) and
// live.Snapshotter for the real-time channel and the media server, and
// serves the /api/rooms endpoints. Every check is made on the server from
// storage on every request. Stream keys are stored only as SHA-256 hashes:
// rotate shows a new key once, GET shows whether one is set and its last
// characters. A Service is safe for concurrent use.
package rooms
