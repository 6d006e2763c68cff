package main

import (
	"strings"
	"testing"
)

type jobOut struct {
	ID     string   `json:"id"`
	OrgID  string   `json:"org_id"`
	Title  string   `json:"title"`
	Status string   `json:"status"`
	Tags   []string `json:"tags"`
	City   string   `json:"city"`
}

type jobsOut struct {
	Jobs       []jobOut `json:"jobs"`
	NextOffset *int     `json:"next_offset"`
}

const welder = `{"title":"Welder","description":"MIG and TIG","city":"Hangzhou","salary_min":6000,"salary_max":9000,
	"salary_period":"month","openings":3,"tags":["accessible","No_Experience"]}`

func TestOrgsMembersJobs(t *testing.T) {
	eachDB(t, func(t *testing.T, s *srv) {
		owner, rec, outsider := s.register("owner@a.example"), s.register("rec@a.example"), s.register("boss@b.example")
		orgA := s.createOrg(owner, "Acme 制造")
		orgB := s.createOrg(outsider, "Bolt")

		// members: owner adds a recruiter by email
		var m struct {
			UserID string `json:"user_id"`
			Role   string `json:"role"`
		}
		s.ok(call{method: "POST", path: "/api/orgs/" + orgA + "/members", token: owner.Token, body: `{"email":"REC@a.example","role":"recruiter"}`}, 201, &m)
		if m.UserID != rec.ID || m.Role != "recruiter" {
			t.Fatalf("member: %+v", m)
		}
		s.fails(call{method: "POST", path: "/api/orgs/" + orgA + "/members", token: owner.Token, body: `{"email":"rec@a.example","role":"recruiter"}`}, 409, "already_member")
		s.fails(call{method: "POST", path: "/api/orgs/" + orgA + "/members", token: owner.Token, body: `{"email":"ghost@a.example","role":"recruiter"}`}, 404, "user_not_found")
		s.fails(call{method: "POST", path: "/api/orgs/" + orgA + "/members", token: owner.Token, body: `{"email":"x@a.example","role":"boss"}`}, 400, "invalid_field")
		s.fails(call{method: "POST", path: "/api/orgs/" + orgA + "/members", token: rec.Token, body: `{"email":"boss@b.example","role":"owner"}`}, 403, "forbidden")
		var members struct {
			Members []struct{ UserID string } `json:"members"`
		}
		s.ok(call{method: "GET", path: "/api/orgs/" + orgA + "/members", token: rec.Token}, 200, &members)
		if len(members.Members) != 2 {
			t.Fatalf("members: %+v", members)
		}

		// jobs: the recruiter creates, lists, reads, patches
		var j jobOut
		s.ok(call{method: "POST", path: "/api/orgs/" + orgA + "/jobs", token: rec.Token, body: welder}, 201, &j)
		if j.OrgID != orgA || j.Status != "open" || len(j.Tags) != 2 || j.Tags[1] != "no_experience" {
			t.Fatalf("job: %+v", j)
		}
		var j2 jobOut
		s.ok(call{method: "POST", path: "/api/orgs/" + orgA + "/jobs", token: owner.Token, body: `{"title":"Remote Go developer","city":"","tags":["remote"],"salary_period":"year"}`}, 201, &j2)
		var bj jobOut
		s.ok(call{method: "POST", path: "/api/orgs/" + orgB + "/jobs", token: outsider.Token, body: `{"title":"Forklift driver","city":"Ningbo","tags":["accessible"]}`}, 201, &bj)

		var list jobsOut
		s.ok(call{method: "GET", path: "/api/orgs/" + orgA + "/jobs", token: rec.Token}, 200, &list)
		if len(list.Jobs) != 2 || list.NextOffset != nil {
			t.Fatalf("org jobs: %+v", list)
		}
		s.ok(call{method: "GET", path: "/api/orgs/" + orgA + "/jobs?limit=1", token: rec.Token}, 200, &list)
		if len(list.Jobs) != 1 || list.NextOffset == nil || *list.NextOffset != 1 {
			t.Fatalf("org jobs page: %+v", list)
		}

		// public search: open jobs of every org, filters
		for _, tc := range []struct {
			q    string
			want int
		}{
			{"", 3}, {"?tag=accessible", 2}, {"?tag=accessible&city=hangzhou", 1}, {"?q=developer", 1},
			{"?q=bolt", 1}, {"?tag=remote&city=Ningbo", 0}, {"?city=%E6%9D%AD%E5%B7%9E", 0},
		} {
			var out jobsOut
			s.ok(call{method: "GET", path: "/api/jobs" + tc.q}, 200, &out)
			if len(out.Jobs) != tc.want {
				t.Errorf("search %q: %d jobs, want %d", tc.q, len(out.Jobs), tc.want)
			}
		}
		s.ok(call{method: "GET", path: "/api/jobs/" + j.ID}, 200, nil)

		// patch: close the job, change salary; invalid changes nothing
		var patched jobOut
		s.ok(call{method: "PATCH", path: "/api/jobs/" + j.ID, token: rec.Token, body: `{"status":"closed","salary_max":9500}`}, 200, &patched)
		if patched.Status != "closed" || patched.Title != "Welder" {
			t.Fatalf("patched: %+v", patched)
		}
		s.fails(call{method: "PATCH", path: "/api/jobs/" + j.ID, token: rec.Token, body: `{"salary_min":99999}`}, 400, "invalid_field")
		s.fails(call{method: "PATCH", path: "/api/jobs/" + j.ID, token: rec.Token, body: `{"status":"paused"}`}, 400, "invalid_field")
		s.fails(call{method: "PATCH", path: "/api/jobs/" + j.ID, token: rec.Token, body: `{}`}, 400, "empty_patch")
		var search jobsOut
		s.ok(call{method: "GET", path: "/api/jobs?tag=accessible"}, 200, &search)
		if len(search.Jobs) != 1 || search.Jobs[0].ID != bj.ID {
			t.Fatalf("closed job still searchable: %+v", search)
		}
		// a closed job is visible to its org only
		s.ok(call{method: "GET", path: "/api/jobs/" + j.ID, token: owner.Token}, 200, nil)
		s.fails(call{method: "GET", path: "/api/jobs/" + j.ID}, 404, "not_found")
		s.fails(call{method: "GET", path: "/api/jobs/" + j.ID, token: outsider.Token}, 404, "not_found")
		s.ok(call{method: "GET", path: "/api/orgs/" + orgA + "/jobs?status=closed", token: owner.Token}, 200, &list)
		if len(list.Jobs) != 1 {
			t.Fatalf("closed filter: %+v", list)
		}

		// org B's owner can neither read nor change org A's jobs or members
		s.fails(call{method: "GET", path: "/api/orgs/" + orgA + "/jobs", token: outsider.Token}, 403, "not_member")
		s.fails(call{method: "GET", path: "/api/orgs/" + orgA, token: outsider.Token}, 403, "not_member")
		s.fails(call{method: "GET", path: "/api/orgs/" + orgA + "/members", token: outsider.Token}, 403, "not_member")
		s.fails(call{method: "POST", path: "/api/orgs/" + orgA + "/jobs", token: outsider.Token, body: welder}, 403, "not_member")
		s.fails(call{method: "POST", path: "/api/orgs/" + orgA + "/members", token: outsider.Token, body: `{"email":"boss@b.example","role":"owner"}`}, 403, "not_member")
		s.fails(call{method: "PATCH", path: "/api/jobs/" + j2.ID, token: outsider.Token, body: `{"title":"Hacked"}`}, 403, "not_member")
		s.fails(call{method: "PATCH", path: "/api/jobs/" + j.ID, token: outsider.Token, body: `{"status":"open"}`}, 404, "not_found")
		var still jobOut
		s.ok(call{method: "GET", path: "/api/jobs/" + j2.ID}, 200, &still)
		if still.Title != "Remote Go developer" {
			t.Fatalf("outsider changed a job: %+v", still)
		}
		w := s.do(call{method: "GET", path: "/api/orgs/" + orgA + "/jobs", token: outsider.Token})
		if strings.Contains(w.Body.String(), "Welder") {
			t.Fatal("forbidden answer leaked data")
		}
		// unknown org / job
		s.fails(call{method: "GET", path: "/api/orgs/0190a1b2-0000-7000-8000-000000000000/jobs", token: owner.Token}, 404, "not_found")
		s.fails(call{method: "GET", path: "/api/jobs/0190a1b2-0000-7000-8000-000000000000"}, 404, "not_found")
	})
}

func TestJobsAnonymousAndBadInput(t *testing.T) {
	s := newSrv(t)
	a := s.register("a@a.example")
	org := s.createOrg(a, "Acme")
	var j jobOut
	s.ok(call{method: "POST", path: "/api/orgs/" + org + "/jobs", token: a.Token, body: welder}, 201, &j)

	for _, c := range []call{
		{method: "POST", path: "/api/orgs", body: `{"name":"X"}`},
		{method: "GET", path: "/api/orgs/" + org},
		{method: "GET", path: "/api/orgs/" + org + "/members"},
		{method: "POST", path: "/api/orgs/" + org + "/members", body: `{"email":"a@a.example","role":"owner"}`},
		{method: "POST", path: "/api/orgs/" + org + "/jobs", body: welder},
		{method: "GET", path: "/api/orgs/" + org + "/jobs"},
		{method: "PATCH", path: "/api/jobs/" + j.ID, body: `{"title":"x"}`},
	} {
		s.fails(c, 401, "unauthenticated")
	}

	cases := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"org malformed", call{method: "POST", path: "/api/orgs", body: `{"name":`}, 400, "malformed_json"},
		{"org unknown field", call{method: "POST", path: "/api/orgs", body: `{"name":"X","owner":"me"}`}, 400, "unknown_field"},
		{"org wrong type", call{method: "POST", path: "/api/orgs", body: `{"name":7}`}, 400, "wrong_type"},
		{"org empty name", call{method: "POST", path: "/api/orgs", body: `{"name":"  "}`}, 400, "invalid_field"},
		{"org not json", call{method: "POST", path: "/api/orgs", body: `[1,2]`}, 400, "malformed_json"},
		{"job no title", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":""}`}, 400, "invalid_field"},
		{"job bad tag", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":"x","tags":["bad tag!"]}`}, 400, "invalid_field"},
		{"job bad period", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":"x","salary_period":"week"}`}, 400, "invalid_field"},
		{"job min>max", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":"x","salary_min":10,"salary_max":5}`}, 400, "invalid_field"},
		{"job wrong type", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":"x","openings":"two"}`}, 400, "wrong_type"},
		{"job tags not array", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":"x","tags":"remote"}`}, 400, "wrong_type"},
		{"job unknown field", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":"x","org_id":"` + org + `"}`}, 400, "unknown_field"},
		{"job too large", call{method: "POST", path: "/api/orgs/" + org + "/jobs", body: `{"title":"x","description":"` + strings.Repeat("y", 70000) + `"}`}, 413, "body_too_large"},
		{"patch wrong type", call{method: "PATCH", path: "/api/jobs/" + j.ID, body: `{"status":1}`}, 400, "wrong_type"},
		{"patch unknown", call{method: "PATCH", path: "/api/jobs/" + j.ID, body: `{"org_id":"x"}`}, 400, "unknown_field"},
		{"bad org id", call{method: "GET", path: "/api/orgs/123/jobs"}, 400, "invalid_id"},
		{"bad job id", call{method: "GET", path: "/api/jobs/123"}, 400, "invalid_id"},
		{"bad tag query", call{method: "GET", path: "/api/jobs?tag=Bad!"}, 400, "invalid_query"},
		{"bad limit", call{method: "GET", path: "/api/jobs?limit=1000"}, 400, "invalid_query"},
		{"bad offset", call{method: "GET", path: "/api/jobs?offset=-1"}, 400, "invalid_query"},
		{"bad status", call{method: "GET", path: "/api/orgs/" + org + "/jobs?status=paused"}, 400, "invalid_query"},
		{"member no email", call{method: "POST", path: "/api/orgs/" + org + "/members", body: `{"role":"owner"}`}, 400, "invalid_field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.token = a.Token
			s.fails(tc.c, tc.status, tc.code)
		})
	}
	var list jobsOut
	s.ok(call{method: "GET", path: "/api/orgs/" + org + "/jobs", token: a.Token}, 200, &list)
	if len(list.Jobs) != 1 {
		t.Fatalf("bad input created jobs: %d", len(list.Jobs))
	}
}
