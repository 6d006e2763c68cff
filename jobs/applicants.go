package jobs

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// ApplicantStore is the storage the employer's applicant views need.
// *store.DB implements it. Every read names the org in the query itself.
type ApplicantStore interface {
	MemberRole(ctx context.Context, org live.OrgID, user live.UserID) (live.OrgRole, error)
	OrgApplications(ctx context.Context, org live.OrgID, f store.OrgApplicationFilter) ([]live.Application, bool, error)
	EachOrgApplication(ctx context.Context, org live.OrgID, f store.OrgApplicationFilter, fn func(live.Application) error) error
	Application(ctx context.Context, org live.OrgID, id live.ApplicationID) (live.Application, error)
	ApplicationOrg(ctx context.Context, id live.ApplicationID) (live.OrgID, error)
	UpdateApplication(ctx context.Context, org live.OrgID, id live.ApplicationID, change func(live.Application) (live.Application, error)) (live.Application, error)
}

// Applicants serves an employer's applicants: list and filter, one by id,
// status changes and notes, CSV export. Only members of the org that owns
// the job (and admins) see an application — other orgs, exhibitors of the
// same fair included, get 404 and nothing else. Safe for concurrent use.
type Applicants struct {
	db ApplicantStore
}

// NewApplicants builds the applicant views.
func NewApplicants(db ApplicantStore) *Applicants { return &Applicants{db: db} }

// Register mounts the routes.
func (a *Applicants) Register(r gin.IRouter) {
	r.GET("/api/orgs/:org/applications", a.list)
	r.GET("/api/orgs/:org/applications.csv", a.csv)
	r.GET("/api/applications/:id", a.get)
	r.PATCH("/api/applications/:id", a.patch)
}

// MaxEmployerNotes is the longest employer note on an application.
const MaxEmployerNotes = 5000

// member checks that the caller may see org's applicants.
func (a *Applicants) member(c *gin.Context, org live.OrgID) bool {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return false
	}
	if id.Admin {
		return true
	}
	if _, err := a.db.MemberRole(c.Request.Context(), org, id.UserID); err != nil {
		if errors.Is(err, live.ErrNotFound) {
			httpx.Fail(c, live.Forbidden("only members of this org see its applicants"))
		} else {
			httpx.Fail(c, err)
		}
		return false
	}
	return true
}

func (a *Applicants) filter(c *gin.Context) (store.OrgApplicationFilter, bool) {
	var f store.OrgApplicationFilter
	bad := func(err error) (store.OrgApplicationFilter, bool) { httpx.Fail(c, err); return f, false }
	if v := c.Query("job"); v != "" {
		id, err := live.ParseID[live.JobID](v, "job")
		if err != nil {
			return bad(err)
		}
		f.JobID = id
	}
	if v := c.Query("room"); v != "" {
		id, err := live.ParseID[live.RoomID](v, "room")
		if err != nil {
			return bad(err)
		}
		f.RoomID = id
	}
	if v := c.Query("status"); v != "" {
		if !live.AppStatus(v).Valid() {
			return bad(live.Invalid("invalid_status", "status must be new, reviewed, interview, offer, hired or rejected"))
		}
		f.Status = live.AppStatus(v)
	}
	for name, dst := range map[string]*time.Time{"after": &f.After, "before": &f.Before} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return bad(live.Invalid("invalid_time", name+" must be an RFC 3339 time"))
			}
			*dst = t
		}
	}
	return f, true
}

func (a *Applicants) list(c *gin.Context) {
	org, ok := httpx.Param[live.OrgID](c, "org", "org id")
	if !ok || !a.member(c, org) {
		return
	}
	f, ok := a.filter(c)
	if !ok {
		return
	}
	if f.Limit, f.Offset, ok = httpx.Page(c); !ok {
		return
	}
	apps, more, err := a.db.OrgApplications(c.Request.Context(), org, f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"applications": apps, "next_offset": httpx.NextOffset(f.Offset, f.Limit, more)})
}

// load finds an application by id for a caller who is a member of its org.
// Anyone else gets 404, so ids cannot be probed across orgs.
func (a *Applicants) load(c *gin.Context) (live.OrgID, live.ApplicationID, bool) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return "", "", false
	}
	appID, ok := httpx.Param[live.ApplicationID](c, "id", "application id")
	if !ok {
		return "", "", false
	}
	ctx := c.Request.Context()
	org, err := a.db.ApplicationOrg(ctx, appID)
	if err == nil && !id.Admin {
		_, err = a.db.MemberRole(ctx, org, id.UserID)
	}
	if err != nil {
		httpx.Fail(c, storeErr(err, "application"))
		return "", "", false
	}
	return org, appID, true
}

func (a *Applicants) get(c *gin.Context) {
	org, id, ok := a.load(c)
	if !ok {
		return
	}
	app, err := a.db.Application(c.Request.Context(), org, id)
	if err != nil {
		httpx.Fail(c, storeErr(err, "application"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"application": app})
}

type patchApplication struct {
	Status *string `json:"status"`
	Notes  *string `json:"notes"`
}

func (a *Applicants) patch(c *gin.Context) {
	org, id, ok := a.load(c)
	if !ok {
		return
	}
	var body patchApplication
	if !httpx.Bind(c, &body) {
		return
	}
	if body.Status == nil && body.Notes == nil {
		httpx.Fail(c, live.Invalid("nothing_to_change", "send status and/or notes"))
		return
	}
	if body.Status != nil && !live.AppStatus(*body.Status).Valid() {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "status must be new, reviewed, interview, offer, hired or rejected", Fields: []string{"status"}})
		return
	}
	if body.Notes != nil && utf8.RuneCountInString(*body.Notes) > MaxEmployerNotes {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "notes are at most 5000 characters", Fields: []string{"notes"}})
		return
	}
	app, err := a.db.UpdateApplication(c.Request.Context(), org, id, func(cur live.Application) (live.Application, error) {
		if body.Status != nil {
			to := live.AppStatus(*body.Status)
			if to != cur.Status && !cur.Status.CanBecome(to) {
				return cur, live.InvalidState("invalid_transition", "an application cannot go from "+string(cur.Status)+" to "+string(to))
			}
			cur.Status = to
		}
		if body.Notes != nil {
			cur.Notes = strings.TrimSpace(*body.Notes)
		}
		return cur, nil
	})
	if err != nil {
		httpx.Fail(c, storeErr(err, "application"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"application": app})
}

// csvHeader is the export's first row.
var csvHeader = []string{"application_id", "applied_at", "status", "job_id", "job_title", "room_id",
	"full_name", "phone", "city", "skills", "summary", "accessibility_needs", "seeker_note", "employer_notes"}

func (a *Applicants) csv(c *gin.Context) {
	org, ok := httpx.Param[live.OrgID](c, "org", "org id")
	if !ok || !a.member(c, org) {
		return
	}
	f, ok := a.filter(c)
	if !ok {
		return
	}
	w := c.Writer
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="applications.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.WriteString("\ufeff") // BOM: Excel then reads UTF-8 (Chinese names) correctly
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	err := a.db.EachOrgApplication(c.Request.Context(), org, f, func(app live.Application) error {
		p := app.Profile
		return cw.Write(CSVRow(string(app.ID), app.CreatedAt.UTC().Format(time.RFC3339), string(app.Status),
			string(app.JobID), app.JobTitle, string(app.RoomID), p.FullName, p.Phone, p.City,
			strings.Join(p.Skills, "; "), p.Summary, p.AccessibilityNeeds, app.Note, app.Notes))
	})
	cw.Flush()
	if err != nil {
		// Headers are gone; end the body short so the download fails visibly.
		_ = c.Error(err)
		c.Abort()
		panic(http.ErrAbortHandler)
	}
}

// CSVRow neutralises spreadsheet formulas: a cell that a spreadsheet would
// evaluate (starting with = + - @ or a tab/CR) gets a leading apostrophe.
func CSVRow(cells ...string) []string {
	for i, s := range cells {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			cells[i] = "'" + s
		}
	}
	return cells
}
