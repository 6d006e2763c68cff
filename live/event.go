package live

import (
	"encoding/json"
	"time"
)

// EventType names an event on a room's channel.
type EventType string

// Ordered room stream: carries a seq, kept in history, replayed on recovery.
const (
	EvChat        EventType = "chat"
	EvChatDeleted EventType = "chat.deleted"
	EvPin         EventType = "pin"
	EvUnpin       EventType = "unpin"
	EvShelf       EventType = "shelf"
	EvApplyCount  EventType = "apply.count"
	EvRoomStatus  EventType = "room.status"
	EvSettings    EventType = "settings"
)

// Ephemeral: no seq, not kept in history.
const (
	EvWelcome         EventType = "welcome"
	EvViewers         EventType = "viewers"
	EvError           EventType = "error"
	EvMuted           EventType = "muted"
	EvBanned          EventType = "banned"
	EvApplication     EventType = "application"     // only to the job's org
	EvRecommendations EventType = "recommendations" // only to one user
	EvDM              EventType = "dm"              // only to one user
	EvHeld            EventType = "chat.held"       // only to moderators
	EvPong            EventType = "pong"
)

// Ordered reports whether events of type t belong to the ordered room stream.
func (t EventType) Ordered() bool {
	switch t {
	case EvChat, EvChatDeleted, EvPin, EvUnpin, EvShelf, EvApplyCount, EvRoomStatus, EvSettings:
		return true
	}
	return false
}

// Event is the envelope of everything sent to viewers:
// {"type":…, "seq":N, "at":…, "data":{…}}. Seq is 0 (omitted) for
// ephemeral events. Data is pre-encoded JSON so an event is encoded once and
// the same bytes go to every recipient.
type Event struct {
	Type EventType       `json:"type"`
	Seq  uint64          `json:"seq,omitempty"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// NewEvent builds an event of type t at the current time with data encoded
// as JSON. It panics only if data cannot be encoded (a programming error).
func NewEvent(t EventType, data any) Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic("live: encoding event data: " + err.Error())
	}
	return Event{Type: t, At: time.Now().UTC().Truncate(time.Millisecond), Data: b}
}

// Event payloads. None carries personal data beyond a chat author's display
// name and user id, which the author shows publicly by chatting.

// ChatData is a public chat message.
type ChatData struct {
	ID     string `json:"id"` // message id (UUID)
	UserID UserID `json:"user_id"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Text   string `json:"text"`
	Nonce  string `json:"nonce,omitempty"` // echoed for the sender
	Masked bool   `json:"masked,omitempty"`
}

// ChatDeletedData removes an earlier chat message.
type ChatDeletedData struct {
	Seq uint64 `json:"seq"`
}

// PinData is the card pinned on every viewer's screen.
type PinData struct {
	Card JobCard `json:"card"`
	By   OrgID   `json:"by_org"`
}

// UnpinData clears the pinned card.
type UnpinData struct {
	JobID JobID `json:"job_id"`
}

// ShelfData is the room's whole job shelf after a change.
type ShelfData struct {
	Jobs []JobCard `json:"jobs"`
}

// ApplyCountData is a job's live applicant total (no personal data).
type ApplyCountData struct {
	JobID JobID `json:"job_id"`
	Total int   `json:"total"`
}

// RoomStatusData is a lifecycle change.
type RoomStatusData struct {
	Status RoomStatus `json:"status"`
}

// ViewersData is the viewer count across all nodes.
type ViewersData struct {
	Count int `json:"count"`
}

// ErrorData is an error event (also used for close reasons).
type ErrorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Nonce   string `json:"nonce,omitempty"`
}

// MutedData tells a user they are timed out.
type MutedData struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

// BannedData tells a user they are banned.
type BannedData struct {
	Reason string `json:"reason,omitempty"`
}

// ApplicationData is the employer's live feed item. It is sent only to
// connections of the org that owns the job. It carries ids and the job title
// only — never the applicant's personal data, because events may cross Redis;
// the employer's page reads the applicant through the authenticated REST API
// (GET /api/applications/:id), where the org is checked in the query.
type ApplicationData struct {
	ApplicationID ApplicationID `json:"application_id"`
	JobID         JobID         `json:"job_id"`
	JobTitle      string        `json:"job_title"`
	OrgID         OrgID         `json:"org_id"`
	RoomID        RoomID        `json:"room_id"`
	At            time.Time     `json:"at"`
}
