package jobs_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"jobcast/live"
	"jobcast/store/storetest"
)

// Org B's recruiter (an exhibitor in A's fair) and outsider C never see A's
// applicants — not by list, id, CSV or status change — and A never sees B's.
func TestApplicantsIsolation(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFair(t, db, 2)
	rec := &recorder{}
	n := newNode(t, db, rec)
	ctx := context.Background()
	// A formula-injection attempt in the profile must be neutralised in CSV.
	if _, err := db.PutProfile(ctx, f.seekers[0], live.Profile{FullName: "=HYPERLINK(\"http://evil\")", Phone: "+8613800138000", City: "武汉"}); err != nil {
		t.Fatal(err)
	}
	var appA, appB live.Application
	for _, x := range []struct {
		job live.JobID
		dst *live.Application
	}{{f.jobA, &appA}, {f.jobB, &appB}} {
		a := call(t, n.srv.URL, "POST", f.applyPath(x.job), f.seekers[0], nil)
		if a.status != 201 {
			t.Fatalf("apply: %d %s", a.status, a.body)
		}
		var b struct {
			Application live.Application `json:"application"`
		}
		a.decode(t, &b)
		*x.dst = b.Application
	}
	orgApps := func(org live.OrgID) string { return "/api/orgs/" + string(org) + "/applications" }
	tests := []struct {
		name   string
		user   live.UserID
		method string
		path   string
		body   any
		status int
		leak   string // must not appear in the answer
	}{
		{"anonymous list", "", "GET", orgApps(f.orgA), nil, 401, string(appA.ID)},
		{"B lists A", f.recB, "GET", orgApps(f.orgA), nil, 403, string(appA.ID)},
		{"C lists A", f.recC, "GET", orgApps(f.orgA), nil, 403, string(appA.ID)},
		{"B exports A", f.recB, "GET", orgApps(f.orgA) + ".csv", nil, 403, "13800138000"},
		{"B reads A's by id", f.recB, "GET", "/api/applications/" + string(appA.ID), nil, 404, "13800138000"},
		{"C changes A's status", f.recC, "PATCH", "/api/applications/" + string(appA.ID), map[string]string{"status": "reviewed"}, 404, ""},
		{"A reads B's by id", f.hostA, "GET", "/api/applications/" + string(appB.ID), nil, 404, "13800138000"},
		{"seeker reads employer view", f.seekers[0], "GET", "/api/applications/" + string(appA.ID), nil, 404, ""},
		{"unknown id", f.hostA, "GET", "/api/applications/" + string(live.NewID[live.ApplicationID]()), nil, 404, ""},
		{"A reads its own", f.hostA, "GET", "/api/applications/" + string(appA.ID), nil, 200, string(appB.ID)},
		{"B lists its own", f.recB, "GET", orgApps(f.orgB), nil, 200, string(appA.ID)},
		{"bad status filter", f.hostA, "GET", orgApps(f.orgA) + "?status=maybe", nil, 400, ""},
		{"bad job filter", f.hostA, "GET", orgApps(f.orgA) + "?job=x", nil, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, n.srv.URL, tc.method, tc.path, tc.user, tc.body)
			if a.status != tc.status {
				t.Fatalf("got %d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.leak != "" && bytes.Contains(a.body, []byte(tc.leak)) {
				t.Fatalf("answer leaks %q: %s", tc.leak, a.body)
			}
		})
	}
	// Status pipeline: invalid transitions refused and nothing changes.
	patch := func(status string) answer {
		return call(t, n.srv.URL, "PATCH", "/api/applications/"+string(appA.ID), f.hostA, map[string]string{"status": status})
	}
	if a := patch("hired"); a.status != 422 || a.code() != "invalid_transition" {
		t.Fatalf("new → hired: %d %s", a.status, a.body)
	}
	for _, s := range []string{"reviewed", "interview", "offer", "hired"} {
		if a := patch(s); a.status != 200 {
			t.Fatalf("→ %s: %d %s", s, a.status, a.body)
		}
	}
	if a := patch("rejected"); a.status != 422 {
		t.Fatalf("hired → rejected: %d %s", a.status, a.body)
	}
	if a := call(t, n.srv.URL, "PATCH", "/api/applications/"+string(appA.ID), f.hostA, map[string]string{"notes": "strong candidate"}); a.status != 200 {
		t.Fatalf("notes: %d %s", a.status, a.body)
	}
	var list struct {
		Applications []live.Application `json:"applications"`
	}
	call(t, n.srv.URL, "GET", orgApps(f.orgA)+"?status=hired&room="+string(f.room), f.hostA, nil).decode(t, &list)
	if len(list.Applications) != 1 || list.Applications[0].Notes != "strong candidate" || list.Applications[0].Status != live.AppHired {
		t.Fatalf("filtered list: %+v", list.Applications)
	}
	// CSV: BOM, header, neutralised formula, Chinese kept, only A's rows.
	a := call(t, n.srv.URL, "GET", orgApps(f.orgA)+".csv", f.hostA, nil)
	if a.status != 200 || !bytes.HasPrefix(a.body, []byte("\ufeff")) {
		t.Fatalf("csv: %d %q", a.status, a.body[:min(20, len(a.body))])
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(a.body, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv rows: %v %v", rows, err)
	}
	row := strings.Join(rows[1], "|")
	if !strings.Contains(row, `'=HYPERLINK`) || !strings.Contains(row, "'+8613800138000") || !strings.Contains(row, "武汉") || strings.Contains(row, string(appB.ID)) {
		t.Fatalf("csv row: %s", row)
	}
	// The seeker's own note and the snapshot are kept.
	var one struct {
		Application live.Application `json:"application"`
	}
	call(t, n.srv.URL, "GET", "/api/applications/"+string(appA.ID), f.hostA, nil).decode(t, &one)
	if one.Application.Profile.City != "武汉" {
		b, _ := json.Marshal(one)
		t.Fatalf("snapshot: %s", b)
	}
}
