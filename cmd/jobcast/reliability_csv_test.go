package main

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
)

// TestReliabilityCSVFormulaInjection: seekers whose names and application
// notes are spreadsheet formulas apply to a job; the org's CSV export
// (GET /api/orgs/:org/applications.csv) parses as CSV and no cell starts
// with a character a spreadsheet evaluates (= + - @ TAB CR).
func TestReliabilityCSVFormulaInjection(t *testing.T) {
	s := newSrv(t)
	owner := s.register("csv-owner@csv.test")
	org := s.createOrg(owner, "CSV org")
	var room struct{ ID string }
	s.ok(call{method: "POST", path: "/api/rooms", token: owner.Token, body: `{"title":"CSV","org_id":"` + org + `"}`}, 201, &room)
	var job struct{ ID string }
	s.ok(call{method: "POST", path: "/api/orgs/" + org + "/jobs", token: owner.Token, body: `{"title":"=HYPERLINK(\"http://x\")"}`}, 201, &job)
	s.ok(call{method: "POST", path: "/api/rooms/" + room.ID + "/shelf", token: owner.Token, body: `{"job_id":"` + job.ID + `"}`}, 201, nil)
	hostile := []string{`=cmd|' /C calc'!A0`, `+1+1`, `-2+3`, `@SUM(A1:A2)`, "\t=1+1", "\r=1+1", `=HYPERLINK("http://evil.example","x")`, `"quoted",=1`}
	for i, h := range hostile {
		seeker := s.register(fmt.Sprintf("csv-seeker%d@csv.test", i))
		name, _ := jsonString(h)
		s.ok(call{method: "PUT", path: "/api/me/profile", token: seeker.Token, body: `{"full_name":` + name + `,"phone":"1380000000` + fmt.Sprint(i) + `","city":` + name + `}`}, 200, nil)
		s.ok(call{method: "POST", path: "/api/rooms/" + room.ID + "/jobs/" + job.ID + "/apply", token: seeker.Token, body: `{"note":` + name + `}`}, 201, nil)
	}
	w := s.do(call{method: "GET", path: "/api/orgs/" + org + "/applications.csv", token: owner.Token})
	if w.Code != 200 {
		t.Fatalf("csv: %d %s", w.Code, w.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(w.Body.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v", err)
	}
	if len(rows) < len(hostile)+1 {
		t.Fatalf("%d rows, want %d", len(rows), len(hostile)+1)
	}
	cells := 0
	for _, r := range rows {
		for _, c := range r {
			cells++
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("cell %q would be evaluated by a spreadsheet", c)
			}
		}
	}
	t.Logf("%d hostile applicants, %d rows, %d cells: 0 formula cells", len(hostile), len(rows), cells)
}

func jsonString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}
