package live

import (
	"github.com/google/uuid"
)

// Typed identifiers. Each holds the canonical text form of a UUID (v7 for new
// ids, so they sort by creation time). The zero value "" means "none".
type (
	UserID        string
	OrgID         string
	JobID         string
	RoomID        string
	ApplicationID string
)

// ID is the set of typed identifiers.
type ID interface {
	~string
}

// NewID returns a fresh time-ordered UUIDv7 as a typed id.
func NewID[T ID]() T {
	return T(uuid.Must(uuid.NewV7()).String())
}

// ParseID checks that s is a UUID and returns it in canonical form as a typed
// id. what names the id in the error ("room id", "job id", ...).
func ParseID[T ID](s, what string) (T, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", Invalid("invalid_id", what+" must be a UUID")
	}
	return T(u.String()), nil
}
