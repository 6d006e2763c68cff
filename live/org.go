package live

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Org is an employer (or a public employment bureau hosting a fair).
type Org struct {
	ID        OrgID     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// OrgRole is a member's role in an org.
type OrgRole string

const (
	OrgOwner     OrgRole = "owner"     // manages members, jobs, rooms
	OrgRecruiter OrgRole = "recruiter" // manages jobs and applicants, hosts rooms
)

// Valid reports whether r is a known role.
func (r OrgRole) Valid() bool { return r == OrgOwner || r == OrgRecruiter }

// Member is a user's membership in an org.
type Member struct {
	OrgID  OrgID   `json:"org_id"`
	UserID UserID  `json:"user_id"`
	Name   string  `json:"name"`
	Role   OrgRole `json:"role"`
}

// ValidateOrgName trims and checks an org name.
func ValidateOrgName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", &Error{Kind: KindInvalid, Code: "invalid_field", Message: "name is required", Fields: []string{"name"}}
	}
	if utf8.RuneCountInString(name) > 120 {
		return "", tooLong("name", 120)
	}
	return name, nil
}
