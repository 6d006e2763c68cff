package live

import (
	"strings"
	"time"
	"unicode/utf8"
)

// JobStatus is open (accepting applications) or closed.
type JobStatus string

const (
	JobOpen   JobStatus = "open"
	JobClosed JobStatus = "closed"
)

// SalaryPeriod says what a salary figure is per.
type SalaryPeriod string

const (
	PerHour  SalaryPeriod = "hour"
	PerDay   SalaryPeriod = "day"
	PerMonth SalaryPeriod = "month"
	PerYear  SalaryPeriod = "year"
)

// Well-known job tags. Other tags are allowed (lower-case, [a-z0-9_], ≤ 32).
const (
	TagAccessible   = "accessible"    // disability-friendly post
	TagGraduate     = "graduate"      // open to fresh graduates
	TagNoExperience = "no_experience" // no experience required
	TagRemote       = "remote"
)

// Job is a vacancy of an org. Salaries are whole currency units (yuan).
type Job struct {
	ID           JobID        `json:"id"`
	OrgID        OrgID        `json:"org_id"`
	OrgName      string       `json:"org_name,omitempty"`
	Title        string       `json:"title"`
	Description  string       `json:"description"`
	City         string       `json:"city"`
	SalaryMin    int64        `json:"salary_min"`
	SalaryMax    int64        `json:"salary_max"`
	SalaryPeriod SalaryPeriod `json:"salary_period"`
	Openings     int          `json:"openings"`
	Tags         []string     `json:"tags"`
	Status       JobStatus    `json:"status"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// HasTag reports whether the job carries tag.
func (j Job) HasTag(tag string) bool {
	for _, t := range j.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Normalize trims text, lower-cases and de-duplicates tags, and defaults the
// salary period (month) and status (open).
func (j *Job) Normalize() {
	j.Title = strings.TrimSpace(j.Title)
	j.Description = strings.TrimSpace(j.Description)
	j.City = strings.TrimSpace(j.City)
	if j.SalaryPeriod == "" {
		j.SalaryPeriod = PerMonth
	}
	if j.Status == "" {
		j.Status = JobOpen
	}
	seen := map[string]bool{}
	tags := make([]string, 0, len(j.Tags))
	for _, t := range j.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		tags = append(tags, t)
	}
	j.Tags = tags
}

// Validate checks a normalized job.
func (j Job) Validate() error {
	bad := func(field, msg string) error {
		return &Error{Kind: KindInvalid, Code: "invalid_field", Message: msg, Fields: []string{field}}
	}
	switch {
	case j.Title == "":
		return bad("title", "title is required")
	case utf8.RuneCountInString(j.Title) > 120:
		return tooLong("title", 120)
	case utf8.RuneCountInString(j.Description) > 10000:
		return tooLong("description", 10000)
	case utf8.RuneCountInString(j.City) > MaxCityLen:
		return tooLong("city", MaxCityLen)
	case j.SalaryMin < 0 || j.SalaryMax < 0:
		return bad("salary_min", "salaries cannot be negative")
	case j.SalaryMax != 0 && j.SalaryMin > j.SalaryMax:
		return bad("salary_max", "salary_max must be at least salary_min")
	case j.SalaryMax > 1_000_000_000:
		return bad("salary_max", "salary_max is too large")
	case j.Openings < 0 || j.Openings > 100000:
		return bad("openings", "openings must be between 0 and 100000")
	case len(j.Tags) > 20:
		return bad("tags", "at most 20 tags")
	}
	switch j.SalaryPeriod {
	case PerHour, PerDay, PerMonth, PerYear:
	default:
		return bad("salary_period", "salary_period must be hour, day, month or year")
	}
	switch j.Status {
	case JobOpen, JobClosed:
	default:
		return bad("status", "status must be open or closed")
	}
	for _, t := range j.Tags {
		if !validTag(t) {
			return bad("tags", "tags are lower-case letters, digits and _ (at most 32)")
		}
	}
	return nil
}

func validTag(t string) bool {
	if t == "" || len(t) > 32 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// JobCard is what viewers see of a job on the shelf or pinned on screen. It
// carries no personal data.
type JobCard struct {
	JobID        JobID        `json:"job_id"`
	OrgID        OrgID        `json:"org_id"`
	OrgName      string       `json:"org_name"`
	Title        string       `json:"title"`
	City         string       `json:"city"`
	SalaryMin    int64        `json:"salary_min"`
	SalaryMax    int64        `json:"salary_max"`
	SalaryPeriod SalaryPeriod `json:"salary_period"`
	Openings     int          `json:"openings"`
	Tags         []string     `json:"tags"`
	Accessible   bool         `json:"accessible"`
	Status       JobStatus    `json:"status"`
	Applicants   int          `json:"applicants"` // live applicant count
}

// Card builds the viewer card of a job with the given applicant count.
func (j Job) Card(applicants int) JobCard {
	tags := j.Tags
	if tags == nil {
		tags = []string{}
	}
	return JobCard{
		JobID: j.ID, OrgID: j.OrgID, OrgName: j.OrgName, Title: j.Title, City: j.City,
		SalaryMin: j.SalaryMin, SalaryMax: j.SalaryMax, SalaryPeriod: j.SalaryPeriod,
		Openings: j.Openings, Tags: tags, Accessible: j.HasTag(TagAccessible),
		Status: j.Status, Applicants: applicants,
	}
}
