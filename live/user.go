package live

import (
	"strings"
	"time"
	"unicode/utf8"
)

// User is an account. Email is personal data: never log it.
type User struct {
	ID        UserID    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
}

// Profile is what a job seeker tells employers about themselves. A snapshot of
// it is stored with every application.
type Profile struct {
	FullName           string    `json:"full_name"`
	Phone              string    `json:"phone"`
	City               string    `json:"city"`
	Skills             []string  `json:"skills"`
	Summary            string    `json:"summary"`
	AccessibilityNeeds string    `json:"accessibility_needs"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// Profile field limits.
const (
	MaxNameLen    = 100
	MaxPhoneLen   = 32
	MaxCityLen    = 64
	MaxSkills     = 30
	MaxSkillLen   = 40
	MaxSummaryLen = 2000
	MaxNeedsLen   = 500
)

// Missing lists the fields an application needs that the profile lacks
// ("full_name", "phone"), in that order. Empty means complete.
func (p Profile) Missing() []string {
	var m []string
	if strings.TrimSpace(p.FullName) == "" {
		m = append(m, "full_name")
	}
	if strings.TrimSpace(p.Phone) == "" {
		m = append(m, "phone")
	}
	return m
}

// Complete reports whether the profile has everything an application needs.
func (p Profile) Complete() bool { return len(p.Missing()) == 0 }

// Normalize trims fields and drops empty or duplicate skills.
func (p *Profile) Normalize() {
	p.FullName = strings.TrimSpace(p.FullName)
	p.Phone = strings.TrimSpace(p.Phone)
	p.City = strings.TrimSpace(p.City)
	p.Summary = strings.TrimSpace(p.Summary)
	p.AccessibilityNeeds = strings.TrimSpace(p.AccessibilityNeeds)
	seen := map[string]bool{}
	skills := make([]string, 0, len(p.Skills))
	for _, s := range p.Skills {
		s = strings.TrimSpace(s)
		k := strings.ToLower(s)
		if s == "" || seen[k] {
			continue
		}
		seen[k] = true
		skills = append(skills, s)
	}
	p.Skills = skills
}

// Validate checks lengths and the phone's shape. Call Normalize first.
func (p Profile) Validate() error {
	switch {
	case utf8.RuneCountInString(p.FullName) > MaxNameLen:
		return tooLong("full_name", MaxNameLen)
	case utf8.RuneCountInString(p.Phone) > MaxPhoneLen:
		return tooLong("phone", MaxPhoneLen)
	case utf8.RuneCountInString(p.City) > MaxCityLen:
		return tooLong("city", MaxCityLen)
	case len(p.Skills) > MaxSkills:
		return &Error{Kind: KindInvalid, Code: "invalid_field", Message: "at most 30 skills", Fields: []string{"skills"}}
	case utf8.RuneCountInString(p.Summary) > MaxSummaryLen:
		return tooLong("summary", MaxSummaryLen)
	case utf8.RuneCountInString(p.AccessibilityNeeds) > MaxNeedsLen:
		return tooLong("accessibility_needs", MaxNeedsLen)
	}
	for _, s := range p.Skills {
		if utf8.RuneCountInString(s) > MaxSkillLen {
			return tooLong("skills", MaxSkillLen)
		}
	}
	if p.Phone != "" && !validPhone(p.Phone) {
		return &Error{Kind: KindInvalid, Code: "invalid_field", Message: "phone may contain only digits, spaces, +, - and parentheses", Fields: []string{"phone"}}
	}
	return nil
}

func validPhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '+' || r == '-' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits >= 5
}

func tooLong(field string, max int) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_field", Message: field + " is too long (max " + itoa(max) + " characters)", Fields: []string{field}}
}

// Identity is who is acting. The zero value is an anonymous visitor.
type Identity struct {
	UserID UserID
	Name   string // display name, shown in chat
	Admin  bool   // global admin, from configuration
}

// SignedIn reports whether the identity is a signed-in user.
func (id Identity) SignedIn() bool { return id.UserID != "" }
