package live

import (
	"strings"
	"time"
	"unicode/utf8"
)

// RoomStatus is where a room is in its lifecycle:
// scheduled → live → ended, or scheduled → ended (cancelled).
type RoomStatus string

const (
	RoomScheduled RoomStatus = "scheduled"
	RoomLive      RoomStatus = "live"
	RoomEnded     RoomStatus = "ended"
)

// Valid reports whether s is a known status.
func (s RoomStatus) Valid() bool { return s == RoomScheduled || s == RoomLive || s == RoomEnded }

// CanBecome reports whether the lifecycle allows s → to. A live room may be
// published again (same status) after a reconnect; an ended room stays ended.
func (s RoomStatus) CanBecome(to RoomStatus) bool {
	switch s {
	case RoomScheduled:
		return to == RoomLive || to == RoomEnded
	case RoomLive:
		return to == RoomLive || to == RoomEnded
	}
	return false
}

// Room is one broadcast, owned by the host org.
type Room struct {
	ID          RoomID       `json:"id"`
	OrgID       OrgID        `json:"org_id"`
	OrgName     string       `json:"org_name,omitempty"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Status      RoomStatus   `json:"status"`
	StartsAt    time.Time    `json:"starts_at"`
	StartedAt   *time.Time   `json:"started_at,omitempty"`
	EndedAt     *time.Time   `json:"ended_at,omitempty"`
	Settings    RoomSettings `json:"settings"`
	PinnedJobID JobID        `json:"pinned_job_id,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
}

// ChatMode says who may chat in a room. Visitors never chat.
type ChatMode string

const (
	ChatOpen            ChatMode = "open"             // any signed-in user
	ChatProfileComplete ChatMode = "profile_complete" // users with a complete profile
	ChatOff             ChatMode = "off"              // host and moderators only
)

// RoomSettings are a room's moderation settings.
type RoomSettings struct {
	SlowModeSeconds int      `json:"slow_mode_seconds"` // 0 = off
	Chat            ChatMode `json:"chat"`
	BlockedWords    []string `json:"blocked_words"`
	MaskPII         bool     `json:"mask_pii"`   // mask phone and ID-card numbers in public chat
	HoldScams       bool     `json:"hold_scams"` // hold deposit/fee requests for moderators
}

// DefaultSettings are the settings of a new room: chat open, masking and
// scam hold-back on.
func DefaultSettings() RoomSettings {
	return RoomSettings{Chat: ChatOpen, BlockedWords: []string{}, MaskPII: true, HoldScams: true}
}

// Settings limits.
const (
	MaxSlowModeSeconds = 3600
	MaxBlockedWords    = 200
	MaxBlockedWordLen  = 50
)

// Normalize trims and de-duplicates blocked words (case-insensitively).
func (s *RoomSettings) Normalize() {
	seen := map[string]bool{}
	words := make([]string, 0, len(s.BlockedWords))
	for _, w := range s.BlockedWords {
		w = strings.TrimSpace(w)
		k := strings.ToLower(w)
		if w == "" || seen[k] {
			continue
		}
		seen[k] = true
		words = append(words, w)
	}
	s.BlockedWords = words
}

// Validate checks normalized settings.
func (s RoomSettings) Validate() error {
	bad := func(field, msg string) error {
		return &Error{Kind: KindInvalid, Code: "invalid_field", Message: msg, Fields: []string{field}}
	}
	if s.SlowModeSeconds < 0 || s.SlowModeSeconds > MaxSlowModeSeconds {
		return bad("slow_mode_seconds", "slow_mode_seconds must be between 0 and 3600")
	}
	switch s.Chat {
	case ChatOpen, ChatProfileComplete, ChatOff:
	default:
		return bad("chat", "chat must be open, profile_complete or off")
	}
	if len(s.BlockedWords) > MaxBlockedWords {
		return bad("blocked_words", "at most 200 blocked words")
	}
	for _, w := range s.BlockedWords {
		if utf8.RuneCountInString(w) > MaxBlockedWordLen {
			return bad("blocked_words", "a blocked word is at most 50 characters")
		}
	}
	return nil
}

// ValidateRoom trims and checks the editable text of a room.
func ValidateRoom(title, description string) (string, string, error) {
	title, description = strings.TrimSpace(title), strings.TrimSpace(description)
	if title == "" {
		return "", "", &Error{Kind: KindInvalid, Code: "invalid_field", Message: "title is required", Fields: []string{"title"}}
	}
	if utf8.RuneCountInString(title) > 120 {
		return "", "", tooLong("title", 120)
	}
	if utf8.RuneCountInString(description) > 5000 {
		return "", "", tooLong("description", 5000)
	}
	return title, description, nil
}
