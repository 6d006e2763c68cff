// Package chat is jobcast's real-time channel: one WebSocket per viewer
// (GET /api/rooms/:room/ws), per-room hubs fanning out the room's ordered
// event stream (chat, pin, shelf, apply.count, room.status, settings,
// chat.deleted) and ephemeral events (welcome, viewers, error, muted, banned,
// application, chat.held, per-user events), history and gap-free recovery,
// presence, and the chat message path (limits, rate limits, moderation
// filters).
//
// Fan-out across nodes goes through a Broker: MemoryBroker for the embedded
// single-process default, RedisBroker when JOBCAST_REDIS_URL is set. Both
// satisfy the same contract test. Service implements live.Publisher and
// live.Notifier for the other packages; cmd/jobcast wires it.
//
// Wire protocol (frames, batching, events, close codes, recovery) is
// documented in docs/api-realtime.md.
package chat
