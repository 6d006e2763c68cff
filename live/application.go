package live

import "time"

// AppStatus is where an application is in the employer's pipeline:
// new → reviewed → interview → offer → hired, and rejected from any
// non-final step.
type AppStatus string

const (
	AppNew       AppStatus = "new"
	AppReviewed  AppStatus = "reviewed"
	AppInterview AppStatus = "interview"
	AppOffer     AppStatus = "offer"
	AppHired     AppStatus = "hired"
	AppRejected  AppStatus = "rejected"
)

// Valid reports whether s is a known status.
func (s AppStatus) Valid() bool {
	switch s {
	case AppNew, AppReviewed, AppInterview, AppOffer, AppHired, AppRejected:
		return true
	}
	return false
}

var appNext = map[AppStatus][]AppStatus{
	AppNew:       {AppReviewed, AppRejected},
	AppReviewed:  {AppInterview, AppRejected},
	AppInterview: {AppOffer, AppRejected},
	AppOffer:     {AppHired, AppRejected},
}

// CanBecome reports whether s → to is an allowed step.
func (s AppStatus) CanBecome(to AppStatus) bool { return contains(appNext[s], to) }

// Application is a seeker's one-tap application to a job, with a snapshot of
// their profile at that moment and the room it came from. It is personal
// data: only the job's org, the seeker and admins may read it.
type Application struct {
	ID        ApplicationID `json:"id"`
	JobID     JobID         `json:"job_id"`
	JobTitle  string        `json:"job_title,omitempty"`
	OrgID     OrgID         `json:"org_id"`
	RoomID    RoomID        `json:"room_id,omitempty"`
	SeekerID  UserID        `json:"seeker_id"`
	Status    AppStatus     `json:"status"`
	Note      string        `json:"note"`    // the seeker's note
	Notes     string        `json:"notes"`   // the employer's notes
	Profile   Profile       `json:"profile"` // snapshot at apply time
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}
