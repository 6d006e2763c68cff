package jobs

import (
	"context"
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

// API serves the org, member and job endpoints. Create it with New; it is
// safe for concurrent use.
type API struct {
	db  *store.DB
	now func() time.Time
}

// New returns the API over db.
func New(db *store.DB) *API { return &API{db: db, now: time.Now} }

// Routes registers the endpoints on r (behind the auth middlewares).
func (a *API) Routes(r gin.IRouter) {
	r.POST("/api/orgs", a.createOrg)
	r.GET("/api/orgs/:org", a.getOrg)
	r.GET("/api/orgs/:org/members", a.listMembers)
	r.POST("/api/orgs/:org/members", a.addMember)
	r.POST("/api/orgs/:org/jobs", a.createJob)
	r.GET("/api/orgs/:org/jobs", a.orgJobs)
	r.GET("/api/jobs", a.searchJobs)
	r.GET("/api/jobs/:job", a.getJob)
	r.PATCH("/api/jobs/:job", a.patchJob)
}

// storeErr turns the store's sentinels into user-facing errors naming what.
func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, live.ErrNotFound):
		return live.NotFound(what)
	case errors.Is(err, live.ErrConflict):
		return live.Conflict("conflict", what+" already exists")
	}
	return err
}

func notMember() *live.Error {
	return &live.Error{Kind: live.KindForbidden, Code: "not_member", Message: "you are not a member of this org"}
}

// Role returns the caller's role in org: admins act as owners; a
// non-member gets a Forbidden error, an unknown org a NotFound one.
func (a *API) Role(ctx context.Context, id live.Identity, org live.OrgID) (live.OrgRole, error) {
	if _, err := a.db.Org(ctx, org); err != nil {
		if errors.Is(err, live.ErrNotFound) {
			return "", live.NotFound("org")
		}
		return "", err
	}
	if id.Admin {
		return live.OrgOwner, nil
	}
	role, err := a.db.MemberRole(ctx, org, id.UserID)
	if errors.Is(err, live.ErrNotFound) {
		return "", notMember()
	}
	return role, err
}

// member resolves the signed-in caller and checks membership of the :org
// path parameter, aborting the request on failure.
func (a *API) member(c *gin.Context) (live.Identity, live.OrgID, live.OrgRole, bool) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return id, "", "", false
	}
	org, ok := httpx.Param[live.OrgID](c, "org", "org id")
	if !ok {
		return id, "", "", false
	}
	role, err := a.Role(c.Request.Context(), id, org)
	if err != nil {
		httpx.Fail(c, err)
		return id, "", "", false
	}
	return id, org, role, true
}

type orgReq struct {
	Name string `json:"name"`
}

type orgResp struct {
	Org  live.Org     `json:"org"`
	Role live.OrgRole `json:"role"`
}

func (a *API) createOrg(c *gin.Context) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return
	}
	var req orgReq
	if !httpx.Bind(c, &req) {
		return
	}
	name, err := live.ValidateOrgName(req.Name)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	o := live.Org{ID: live.NewID[live.OrgID](), Name: name, CreatedAt: a.now().UTC().Truncate(time.Microsecond)}
	if err := a.db.CreateOrg(c.Request.Context(), o, id.UserID); err != nil {
		httpx.Fail(c, storeErr(err, "user"))
		return
	}
	c.Header("Location", "/api/orgs/"+string(o.ID))
	c.JSON(http.StatusCreated, orgResp{Org: o, Role: live.OrgOwner})
}

func (a *API) getOrg(c *gin.Context) {
	_, org, role, ok := a.member(c)
	if !ok {
		return
	}
	o, err := a.db.Org(c.Request.Context(), org)
	if err != nil {
		httpx.Fail(c, storeErr(err, "org"))
		return
	}
	c.JSON(http.StatusOK, orgResp{Org: o, Role: role})
}

type membersResp struct {
	Members []live.Member `json:"members"`
}

func (a *API) listMembers(c *gin.Context) {
	_, org, _, ok := a.member(c)
	if !ok {
		return
	}
	ms, err := a.db.Members(c.Request.Context(), org)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, membersResp{Members: ms})
}

type memberReq struct {
	Email string       `json:"email"`
	Role  live.OrgRole `json:"role"`
}

func (a *API) addMember(c *gin.Context) {
	id, org, role, ok := a.member(c)
	if !ok {
		return
	}
	if role != live.OrgOwner {
		httpx.Fail(c, live.Forbidden("only an owner of the org can add members"))
		return
	}
	var req memberReq
	if !httpx.Bind(c, &req) {
		return
	}
	if req.Role == "" {
		req.Role = live.OrgRecruiter
	}
	if !req.Role.Valid() {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "role must be owner or recruiter", Fields: []string{"role"}})
		return
	}
	email := store.NormalizeEmail(req.Email)
	if email == "" || len(email) > 254 {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "email is required", Fields: []string{"email"}})
		return
	}
	ctx := c.Request.Context()
	u, _, err := a.db.UserByEmail(ctx, email)
	if errors.Is(err, live.ErrNotFound) {
		httpx.Fail(c, &live.Error{Kind: live.KindNotFound, Code: "user_not_found", Message: "no account with this email; ask them to register first"})
		return
	}
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if err := a.db.AddMember(ctx, org, u.ID, req.Role); err != nil {
		if errors.Is(err, live.ErrConflict) {
			httpx.Fail(c, live.Conflict("already_member", "this account is already a member of the org"))
			return
		}
		httpx.Fail(c, err)
		return
	}
	_ = a.db.AppendAudit(ctx, store.AuditEntry{OrgID: org, ActorID: id.UserID, Action: "org.member_added", TargetID: string(u.ID), Data: `{"role":"` + string(req.Role) + `"}`})
	c.JSON(http.StatusCreated, live.Member{OrgID: org, UserID: u.ID, Name: u.Name, Role: req.Role})
}

// jobReq is the body of POST /api/orgs/:org/jobs.
type jobReq struct {
	Title        string            `json:"title"`
	Description  string            `json:"description"`
	City         string            `json:"city"`
	SalaryMin    int64             `json:"salary_min"`
	SalaryMax    int64             `json:"salary_max"`
	SalaryPeriod live.SalaryPeriod `json:"salary_period"`
	Openings     int               `json:"openings"`
	Tags         []string          `json:"tags"`
	Status       live.JobStatus    `json:"status"`
}

func (a *API) createJob(c *gin.Context) {
	_, org, _, ok := a.member(c)
	if !ok {
		return
	}
	var req jobReq
	if !httpx.Bind(c, &req) {
		return
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	j := live.Job{ID: live.NewID[live.JobID](), OrgID: org, Title: req.Title, Description: req.Description, City: req.City,
		SalaryMin: req.SalaryMin, SalaryMax: req.SalaryMax, SalaryPeriod: req.SalaryPeriod, Openings: req.Openings,
		Tags: req.Tags, Status: req.Status, CreatedAt: now, UpdatedAt: now}
	j.Normalize()
	if err := j.Validate(); err != nil {
		httpx.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := a.db.CreateJob(ctx, j); err != nil {
		httpx.Fail(c, storeErr(err, "org"))
		return
	}
	saved, err := a.db.Job(ctx, j.ID)
	if err != nil {
		httpx.Fail(c, storeErr(err, "job"))
		return
	}
	c.Header("Location", "/api/jobs/"+string(saved.ID))
	c.JSON(http.StatusCreated, saved)
}

type jobsResp struct {
	Jobs       []live.Job `json:"jobs"`
	NextOffset *int       `json:"next_offset"`
}

func listAnswer(c *gin.Context, jobs []live.Job, more bool, offset int) {
	resp := jobsResp{Jobs: jobs}
	if more {
		n := offset + len(jobs)
		resp.NextOffset = &n
	}
	c.JSON(http.StatusOK, resp)
}

func (a *API) orgJobs(c *gin.Context) {
	_, org, _, ok := a.member(c)
	if !ok {
		return
	}
	f, err := filter(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if s := c.Query("status"); s != "" {
		if s != string(live.JobOpen) && s != string(live.JobClosed) {
			httpx.Fail(c, badQuery("status", "status must be open or closed"))
			return
		}
		f.Status = live.JobStatus(s)
	}
	f.OrgID = org
	jobs, more, err := a.db.Jobs(c.Request.Context(), f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	listAnswer(c, jobs, more, f.Offset)
}

// searchJobs lists open jobs of every org, for seekers and visitors.
func (a *API) searchJobs(c *gin.Context) {
	f, err := filter(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	f.Status = live.JobOpen
	jobs, more, err := a.db.Jobs(c.Request.Context(), f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	listAnswer(c, jobs, more, f.Offset)
}

func badQuery(field, msg string) *live.Error {
	return &live.Error{Kind: live.KindInvalid, Code: "invalid_query", Message: msg, Fields: []string{field}}
}

// filter reads tag, city, q, limit and offset.
func filter(c *gin.Context) (store.JobFilter, error) {
	var f store.JobFilter
	f.Tag = strings.ToLower(strings.TrimSpace(c.Query("tag")))
	if f.Tag != "" && !validTag(f.Tag) {
		return f, badQuery("tag", "tag is lower-case letters, digits and _ (at most 32)")
	}
	f.City = strings.TrimSpace(c.Query("city"))
	if utf8.RuneCountInString(f.City) > live.MaxCityLen {
		return f, badQuery("city", "city is too long")
	}
	f.Query = strings.TrimSpace(c.Query("q"))
	if utf8.RuneCountInString(f.Query) > 100 {
		return f, badQuery("q", "q is at most 100 characters")
	}
	var err error
	f.Limit, f.Offset, err = httpx.ParsePage(c)
	return f, err
}

func validTag(t string) bool {
	if len(t) > 32 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// visibleJob loads a job the caller may see: open jobs are public; closed
// jobs only to members of the job's org (others get 404). It returns the
// caller's role in the job's org ("" for non-members).
func (a *API) visibleJob(c *gin.Context) (live.Job, live.OrgRole, bool) {
	jid, ok := httpx.Param[live.JobID](c, "job", "job id")
	if !ok {
		return live.Job{}, "", false
	}
	ctx := c.Request.Context()
	j, err := a.db.Job(ctx, jid)
	if err != nil {
		httpx.Fail(c, storeErr(err, "job"))
		return j, "", false
	}
	var role live.OrgRole
	if id := httpx.Identity(c); id.SignedIn() {
		role, err = a.Role(ctx, id, j.OrgID)
		if err != nil {
			if _, ok := live.AsError(err); !ok {
				httpx.Fail(c, err)
				return j, "", false
			}
			role = ""
		}
	}
	if j.Status != live.JobOpen && role == "" {
		httpx.Fail(c, live.NotFound("job"))
		return j, "", false
	}
	return j, role, true
}

func (a *API) getJob(c *gin.Context) {
	j, _, ok := a.visibleJob(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, j)
}

// jobPatch is the body of PATCH /api/jobs/:job; absent fields stay.
type jobPatch struct {
	Title        *string            `json:"title"`
	Description  *string            `json:"description"`
	City         *string            `json:"city"`
	SalaryMin    *int64             `json:"salary_min"`
	SalaryMax    *int64             `json:"salary_max"`
	SalaryPeriod *live.SalaryPeriod `json:"salary_period"`
	Openings     *int               `json:"openings"`
	Tags         *[]string          `json:"tags"`
	Status       *live.JobStatus    `json:"status"`
}

func (p jobPatch) empty() bool {
	return p.Title == nil && p.Description == nil && p.City == nil && p.SalaryMin == nil && p.SalaryMax == nil &&
		p.SalaryPeriod == nil && p.Openings == nil && p.Tags == nil && p.Status == nil
}

func (p jobPatch) apply(j live.Job) live.Job {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&j.Title, p.Title)
	set(&j.Description, p.Description)
	set(&j.City, p.City)
	if p.SalaryMin != nil {
		j.SalaryMin = *p.SalaryMin
	}
	if p.SalaryMax != nil {
		j.SalaryMax = *p.SalaryMax
	}
	if p.SalaryPeriod != nil {
		j.SalaryPeriod = *p.SalaryPeriod
		if j.SalaryPeriod == "" {
			j.SalaryPeriod = "invalid"
		}
	}
	if p.Openings != nil {
		j.Openings = *p.Openings
	}
	if p.Tags != nil {
		j.Tags = append([]string{}, *p.Tags...)
	}
	if p.Status != nil {
		j.Status = *p.Status
		if j.Status == "" {
			j.Status = "invalid"
		}
	}
	return j
}

func (a *API) patchJob(c *gin.Context) {
	if _, ok := httpx.RequireUser(c); !ok {
		return
	}
	j, role, ok := a.visibleJob(c)
	if !ok {
		return
	}
	if role == "" {
		httpx.Fail(c, notMember())
		return
	}
	var p jobPatch
	if !httpx.Bind(c, &p) {
		return
	}
	if p.empty() {
		httpx.Fail(c, live.Invalid("empty_patch", "send at least one field to change"))
		return
	}
	updated, err := a.db.UpdateJob(c.Request.Context(), j.ID, func(cur live.Job) (live.Job, error) {
		next := p.apply(cur)
		next.Normalize()
		return next, next.Validate()
	})
	if err != nil {
		httpx.Fail(c, storeErr(err, "job"))
		return
	}
	c.JSON(http.StatusOK, updated)
}
