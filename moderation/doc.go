// Package moderation keeps a room clean on every node at once: deleting
// chat messages, time-outs (mutes), bans, room settings (slow mode, chat
// mode, blocked words, PII masking, scam hold-back), the queue of messages
// held for moderators, and the room's audit log.
//
// Every action is checked on the server (live.RoomAccess.Can(ActModerate)
// and CanModerate for the target: moderators act only in their rooms,
// nobody moderates the host or an admin, moderators do not moderate each
// other), stored in the database together with its audit row in one
// transaction, and then announced through the real-time channel (Channel,
// implemented by chat.Service): settings as an ordered event, mutes and
// bans to the user on whichever node they are connected, bans also closing
// their sockets and media sessions. Nodes read moderation state from the
// database on every chat message and connection, so a node that starts
// later has it too.
//
// The HTTP surface is documented in docs/api-moderation.md.
package moderation
