package advisor

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// Report is a room's figures for the host org: counts only, no personal
// data.
type Report struct {
	RoomID      live.RoomID       `json:"room_id"`
	Title       string            `json:"title"`
	Status      live.RoomStatus   `json:"status"`
	GeneratedAt time.Time         `json:"generated_at"`
	Employers   int               `json:"employers"`
	Jobs        int               `json:"jobs"`
	Viewers     ReportViewers     `json:"viewers"`
	Seekers     ReportSeekers     `json:"seekers"`
	Apps        ReportApps        `json:"applications"`
	Help        ReportHelp        `json:"help_requests"`
	FollowUps   ReportFollowUps   `json:"followups"`
	DMs         int               `json:"direct_messages"`
	Notes       map[string]string `json:"notes"`
}

// ReportViewers: UniqueSignedIn counts signed-in users who opened the
// room's channel (room_visits); Peak is the largest sampled viewer count
// (nil if the room was never sampled live).
type ReportViewers struct {
	UniqueSignedIn int  `json:"unique_signed_in"`
	Peak           *int `json:"peak"`
}

// ReportSeekers counts signed-in seekers and the recommendations they got.
type ReportSeekers struct {
	SignedIn            int     `json:"signed_in"`
	Recommended         int     `json:"recommended"`
	Recommended3Plus    int     `json:"recommended_3_plus"`
	Recommended3PlusPct float64 `json:"recommended_3_plus_pct"`
	Pushes              int     `json:"recommendation_pushes"`
}

// ReportApps counts applications made from the room.
type ReportApps struct {
	Total       int                     `json:"total"`
	PerJob      []store.JobApplications `json:"per_job"`
	PerEmployer []EmployerApplications  `json:"per_employer"`
}

// EmployerApplications is one org's total.
type EmployerApplications struct {
	OrgID        live.OrgID `json:"org_id"`
	OrgName      string     `json:"org_name"`
	Jobs         int        `json:"jobs"`
	Applications int        `json:"applications"`
}

// ReportHelp counts "I need help" requests.
type ReportHelp struct {
	Seekers int `json:"seekers"`
	Asks    int `json:"asks"`
}

// ReportFollowUps counts advisors' follow-ups.
type ReportFollowUps struct {
	Total     int            `json:"total"`
	Seekers   int            `json:"seekers"`
	ByOutcome map[string]int `json:"by_outcome"`
}

var reportNotes = map[string]string{
	"viewers.unique_signed_in": "signed-in users who opened the room's live channel; anonymous visitors are not counted",
	"viewers.peak":             "largest viewer count over all nodes (anonymous viewers included), sampled every 15 s while the room is live; null if never sampled",
	"seekers":                  "signed-in users without a staff or exhibitor role in the room",
}

// BuildReport computes room's report. It blocks on storage.
func (s *Service) BuildReport(ctx context.Context, room live.Room) (Report, error) {
	n, err := s.db.RoomReport(ctx, room.ID)
	if err != nil {
		return Report{}, err
	}
	r := Report{RoomID: room.ID, Title: room.Title, Status: room.Status, GeneratedAt: s.now().UTC().Truncate(time.Second),
		Employers: n.Employers, Jobs: n.ShelfJobs, DMs: n.DirectMessages, Notes: reportNotes,
		Viewers:   ReportViewers{UniqueSignedIn: n.UniqueVisitors, Peak: n.PeakViewers},
		Seekers:   ReportSeekers{SignedIn: n.Seekers, Recommended: n.SeekersRecommended, Recommended3Plus: n.SeekersWith3, Pushes: n.RecommendationPushes},
		Apps:      ReportApps{Total: n.Applications, PerJob: n.PerJob},
		Help:      ReportHelp{Seekers: n.HelpRequests, Asks: n.HelpAsks},
		FollowUps: ReportFollowUps{Seekers: n.SeekersFollowedUp, ByOutcome: map[string]int{}},
	}
	if r.Apps.PerJob == nil {
		r.Apps.PerJob = []store.JobApplications{}
	}
	if n.Seekers > 0 {
		r.Seekers.Recommended3PlusPct = float64(int(float64(n.SeekersWith3)*1000/float64(n.Seekers))) / 10
	}
	for _, o := range store.Outcomes {
		r.FollowUps.ByOutcome[o] = n.FollowUps[o]
		r.FollowUps.Total += n.FollowUps[o]
	}
	byOrg := map[live.OrgID]*EmployerApplications{}
	r.Apps.PerEmployer = []EmployerApplications{}
	for _, j := range n.PerJob {
		e := byOrg[j.OrgID]
		if e == nil {
			e = &EmployerApplications{OrgID: j.OrgID, OrgName: j.OrgName}
			byOrg[j.OrgID] = e
		}
		e.Jobs++
		e.Applications += j.Applications
	}
	for _, e := range byOrg {
		r.Apps.PerEmployer = append(r.Apps.PerEmployer, *e)
	}
	slices.SortFunc(r.Apps.PerEmployer, func(a, b EmployerApplications) int {
		if a.Applications != b.Applications {
			return b.Applications - a.Applications
		}
		return strings.Compare(string(a.OrgID), string(b.OrgID))
	})
	return r, nil
}

func (s *Service) reportAccess(c *gin.Context) (live.Room, bool) {
	room, acc, ok := s.access(c)
	if !ok {
		return room, false
	}
	if !acc.Can(live.ActViewRoomAll) {
		httpx.Fail(c, live.Forbidden("only the host org and admins read the room's report"))
		return room, false
	}
	return room, true
}

// report: GET /api/rooms/:room/report.
func (s *Service) report(c *gin.Context) {
	room, ok := s.reportAccess(c)
	if !ok {
		return
	}
	r, err := s.BuildReport(c.Request.Context(), room)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

// reportCSV: GET /api/rooms/:room/report.csv — section,key,name,value rows
// with a UTF-8 BOM (Excel), formulas neutralised.
func (s *Service) reportCSV(c *gin.Context) {
	room, ok := s.reportAccess(c)
	if !ok {
		return
	}
	r, err := s.BuildReport(c.Request.Context(), room)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%s.csv"`, room.ID))
	c.Status(http.StatusOK)
	_, _ = c.Writer.WriteString("\ufeff")
	w := csv.NewWriter(c.Writer)
	row := func(section, key, name string, v int) { _ = w.Write(cells(section, key, name, strconv.Itoa(v))) }
	_ = w.Write([]string{"section", "key", "name", "value"})
	row("room", "employers", "", r.Employers)
	row("room", "jobs", "", r.Jobs)
	row("viewers", "unique_signed_in", "", r.Viewers.UniqueSignedIn)
	if r.Viewers.Peak != nil {
		row("viewers", "peak", "", *r.Viewers.Peak)
	}
	row("seekers", "signed_in", "", r.Seekers.SignedIn)
	row("seekers", "recommended", "", r.Seekers.Recommended)
	row("seekers", "recommended_3_plus", "", r.Seekers.Recommended3Plus)
	row("seekers", "recommendation_pushes", "", r.Seekers.Pushes)
	row("applications", "total", "", r.Apps.Total)
	for _, j := range r.Apps.PerJob {
		row("applications_per_job", string(j.JobID), j.Title, j.Applications)
	}
	for _, e := range r.Apps.PerEmployer {
		row("applications_per_employer", string(e.OrgID), e.OrgName, e.Applications)
	}
	row("help_requests", "seekers", "", r.Help.Seekers)
	row("help_requests", "asks", "", r.Help.Asks)
	row("followups", "total", "", r.FollowUps.Total)
	row("followups", "seekers", "", r.FollowUps.Seekers)
	for _, o := range store.Outcomes {
		row("followups_by_outcome", o, "", r.FollowUps.ByOutcome[o])
	}
	row("direct_messages", "total", "", r.DMs)
	w.Flush()
}

// cells neutralises spreadsheet formulas: a cell starting with = + - @ or
// a control character gets a leading apostrophe.
func cells(xs ...string) []string {
	for i, x := range xs {
		if x != "" && strings.ContainsRune("=+-@\t\r", rune(x[0])) {
			xs[i] = "'" + x
		}
	}
	return xs
}
