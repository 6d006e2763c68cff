package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"jobcast/advisor"
	"jobcast/auth"
	"jobcast/jobs"
	"jobcast/live"
	"jobcast/store"
)

// staffUser creates a signed-in user and returns its id and token.
func staffUser(t *testing.T, db *store.DB, name string) (live.UserID, string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	u := live.User{ID: live.NewID[live.UserID](), Email: name + "-" + string(live.NewID[live.UserID]()) + "@example.test", Name: name, CreatedAt: now}
	if err := db.CreateUser(ctx, u, "x"); err != nil {
		t.Fatal(err)
	}
	tok := "adv-" + string(live.NewID[live.UserID]())
	if err := db.CreateSession(ctx, store.Session{TokenHash: auth.TokenHash(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return u.ID, tok
}

func assignAdvisor(t *testing.T, db *store.DB, room live.RoomID, user live.UserID) {
	t.Helper()
	if err := db.AddStaff(context.Background(), room, user, store.StaffAdvisor, ""); err != nil {
		t.Fatal(err)
	}
}

// waitWelcome drains events until the welcome, so that the connection is
// registered before anything is sent to it.
func waitWelcome(t *testing.T, ch <-chan live.Event) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("socket closed before welcome")
			}
			if ev.Type == live.EvWelcome {
				return
			}
		case <-deadline:
			t.Fatal("no welcome")
		}
	}
}

// Two nodes share one database and one Redis. A seeker joining on node B
// gets exactly their own recommendations (≥3), another seeker on node A
// none of them; an advisor's private message on node A reaches only its
// recipient on node B, with ids only, and the reply comes back.
func TestAdvisorAcrossNodes(t *testing.T) {
	if !redisUp() {
		skipOrFail(t, "Redis at 127.0.0.1:6379")
	}
	prefix := "adv" + string(live.NewID[live.RoomID]())[:8] + ":"
	dir := t.TempDir()
	node := func() (*srv, string) {
		cfg := testConfig(t)
		cfg.DataDir, cfg.RedisURL = dir, "redis://127.0.0.1:6379/0"
		s := newSrvCfg(t, cfg, Options{RedisPrefix: prefix})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.app.Serve(ln) }()
		return s, ln.Addr().String()
	}
	a, addrA := node()
	b, addrB := node()
	db := a.app.DB
	f := seedFair(t, db, 2, 4)
	advID, advTok := staffUser(t, db, "advisor")
	assignAdvisor(t, db, f.room, advID)

	s0 := wsEvents(t, addrB, f.room, f.tokens[0]) // seeker 0 on node B
	s1 := wsEvents(t, addrA, f.room, f.tokens[1]) // seeker 1 on node A
	adv := wsEvents(t, addrA, f.room, advTok)
	waitWelcome(t, s0)
	waitWelcome(t, s1)
	waitWelcome(t, adv)

	// Joining pushed the recommendations (chat's OnJoin hook).
	got0 := collect(s0, 700*time.Millisecond, live.EvRecommendations)
	if len(got0) != 1 {
		t.Fatalf("seeker 0 got %d recommendations events, want 1", len(got0))
	}
	var rd jobs.RecommendationsData
	if err := json.Unmarshal(got0[0].Data, &rd); err != nil {
		t.Fatal(err)
	}
	if rd.Count < jobs.MinRecommendations || !rd.Complete || len(rd.Jobs) != rd.Count || rd.RoomID != f.room {
		t.Fatalf("recommendations: %+v", rd)
	}
	for _, r := range rd.Jobs {
		if r.RoomID != f.room || len(r.Reasons) == 0 {
			t.Fatalf("recommendation without room or reasons: %+v", r)
		}
	}
	// Seeker 0's phone (seedFair) in full: "138" alone also occurs in the
	// event's random ids.
	if strings.Contains(string(got0[0].Data), "13800000000") || strings.Contains(string(got0[0].Data), "Seeker 0") {
		t.Fatalf("personal data in the event: %s", got0[0].Data)
	}
	// Seeker 1 joined too: exactly one push — its own — and none of
	// seeker 0's (a per-user path, not a room broadcast).
	if n := len(collect(s1, 200*time.Millisecond, live.EvRecommendations)); n != 1 {
		t.Fatalf("seeker 1 got %d recommendations events, want only its own one", n)
	}
	if n := len(collect(adv, 100*time.Millisecond, live.EvRecommendations)); n != 0 {
		t.Fatalf("advisor got %d recommendations", n)
	}

	// Advisor (node A) → seeker 0 (node B).
	var sent struct{ Message store.DirectMessage }
	a.ok(call{method: "POST", path: "/api/rooms/" + string(f.room) + "/messages/direct", token: advTok,
		body: `{"to":"` + string(f.seekers[0]) + `","text":"Hello, can I help with your CV?"}`}, 201, &sent)
	dms := collect(s0, 700*time.Millisecond, live.EvDM)
	if len(dms) != 1 {
		t.Fatalf("seeker 0 got %d dm events, want 1", len(dms))
	}
	if strings.Contains(string(dms[0].Data), "CV") {
		t.Fatalf("dm event carries the text: %s", dms[0].Data)
	}
	var dd advisor.DMData
	_ = json.Unmarshal(dms[0].Data, &dd)
	if dd.ID != sent.Message.ID || dd.FromID != advID || dd.SeekerID != f.seekers[0] {
		t.Fatalf("dm event %+v", dd)
	}
	if n := len(collect(s1, 200*time.Millisecond, live.EvDM)); n != 0 {
		t.Fatalf("seeker 1 got %d dm events", n)
	}
	var thread struct{ Messages []store.DirectMessage }
	b.ok(call{method: "GET", path: "/api/rooms/" + string(f.room) + "/messages/direct?with=" + string(advID), token: f.tokens[0]}, 200, &thread)
	if len(thread.Messages) != 1 || thread.Messages[0].Text != "Hello, can I help with your CV?" {
		t.Fatalf("seeker's thread: %+v", thread.Messages)
	}
	// Seeker 1 sees nothing of that thread and may not start one.
	b.ok(call{method: "GET", path: "/api/rooms/" + string(f.room) + "/messages/direct?with=" + string(advID), token: f.tokens[1]}, 200, &thread)
	if len(thread.Messages) != 0 {
		t.Fatalf("seeker 1 reads another seeker's thread: %+v", thread.Messages)
	}
	b.fails(call{method: "POST", path: "/api/rooms/" + string(f.room) + "/messages/direct", token: f.tokens[1],
		body: `{"to":"` + string(advID) + `","text":"hi"}`}, 403, "forbidden")
	// Reply from node B reaches the advisor on node A.
	b.ok(call{method: "POST", path: "/api/rooms/" + string(f.room) + "/messages/direct", token: f.tokens[0],
		body: `{"to":"` + string(advID) + `","text":"Yes please"}`}, 201, nil)
	if n := len(collect(adv, 700*time.Millisecond, live.EvDM)); n != 1 {
		t.Fatalf("advisor got %d reply events, want 1", n)
	}
	if n := len(collect(s1, 100*time.Millisecond, live.EvDM)); n != 0 {
		t.Fatalf("seeker 1 got %d dm events", n)
	}

	// The report's peak comes from the channel's real viewer count: node A
	// holds two of the three connections, node B's count arrives with its
	// next presence refresh.
	if err := advisor.NewPeakSampler(db, a.app.Live.Chat, 0, quietLog()).SampleOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var r advisor.Report
	b.ok(call{method: "GET", path: rp(f.room, "/report"), token: f.host}, 200, &r)
	if r.Viewers.Peak == nil || *r.Viewers.Peak < 2 || *r.Viewers.Peak > 3 || r.Viewers.UniqueSignedIn != 3 || r.Seekers.Recommended3Plus != 2 {
		t.Fatalf("report viewers %+v seekers %+v", r.Viewers, r.Seekers)
	}
}

// path helpers
func rp(room live.RoomID, rest string) string { return "/api/rooms/" + string(room) + rest }

// A non-advisor cannot read follow-ups, list seekers or send private
// messages; an advisor of room A sees and does nothing in room B; the
// report is for the host org only; bad input changes nothing; every
// advisor view of a seeker is in the audit log.
func TestAdvisorPermissions(t *testing.T) {
	eachDB(t, func(t *testing.T, s *srv) {
		db := s.app.DB
		ctx := context.Background()
		fa := seedFair(t, db, 2, 3)
		fb := secondFair(t, db)
		advID, advTok := staffUser(t, db, "advisorA")
		assignAdvisor(t, db, fa.room, advID)
		for _, u := range fa.seekers {
			if _, err := s.app.Live.Recommend.Push(ctx, fa.room, live.Identity{UserID: u}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.app.Live.Recommend.Push(ctx, fb.room, live.Identity{UserID: fb.seekers[0]}); err != nil {
			t.Fatal(err)
		}
		seekerA, otherA := fa.tokens[0], fa.tokens[1]
		fu := `{"seeker_id":"` + string(fa.seekers[0]) + `","outcome":"contacted","note":"called"}`

		// Non-advisors: a seeker, and the anonymous visitor.
		s.fails(call{method: "GET", path: rp(fa.room, "/followups"), token: otherA}, 403, "forbidden")
		s.fails(call{method: "POST", path: rp(fa.room, "/followups"), token: otherA, body: fu}, 403, "forbidden")
		s.fails(call{method: "GET", path: rp(fa.room, "/seekers"), token: otherA}, 403, "forbidden")
		s.fails(call{method: "POST", path: rp(fa.room, "/messages/direct"), token: otherA,
			body: `{"to":"` + string(fa.seekers[0]) + `","text":"hi"}`}, 403, "forbidden")
		s.fails(call{method: "GET", path: rp(fa.room, "/followups")}, 401, "")
		s.fails(call{method: "GET", path: rp(fa.room, "/report"), token: seekerA}, 403, "forbidden")
		s.fails(call{method: "GET", path: rp(fa.room, "/report"), token: advTok}, 403, "forbidden")

		// The advisor of A in room B.
		s.fails(call{method: "GET", path: rp(fb.room, "/seekers"), token: advTok}, 403, "forbidden")
		s.fails(call{method: "GET", path: rp(fb.room, "/followups"), token: advTok}, 403, "forbidden")
		s.fails(call{method: "GET", path: rp(fb.room, "/seekers/"+string(fb.seekers[0])), token: advTok}, 403, "forbidden")
		s.fails(call{method: "POST", path: rp(fb.room, "/messages/direct"), token: advTok,
			body: `{"to":"` + string(fb.seekers[0]) + `","text":"hi"}`}, 403, "forbidden")
		// …nor B's seeker through room A.
		s.fails(call{method: "POST", path: rp(fa.room, "/messages/direct"), token: advTok,
			body: `{"to":"` + string(fb.seekers[0]) + `","text":"hi"}`}, 404, "not_found")
		s.fails(call{method: "POST", path: rp(fa.room, "/followups"), token: advTok,
			body: `{"seeker_id":"` + string(fb.seekers[0]) + `","outcome":"contacted"}`}, 404, "not_found")
		s.fails(call{method: "GET", path: rp(fa.room, "/seekers/"+string(fb.seekers[0])), token: advTok}, 404, "not_found")

		// Bad input changes nothing.
		for _, body := range []string{
			`{"seeker_id":"` + string(fa.seekers[0]) + `","outcome":"fired"}`,
			`{"seeker_id":"` + string(fa.seekers[0]) + `","outcome":"referred"}`,
			`{"seeker_id":"` + string(fa.seekers[0]) + `","outcome":"referred","job_id":"` + string(live.NewID[live.JobID]()) + `"}`,
			`{"seeker_id":"nope","outcome":"contacted"}`,
			`{"seeker_id":"` + string(fa.seekers[0]) + `","outcome":"contacted","extra":1}`,
		} {
			s.fails(call{method: "POST", path: rp(fa.room, "/followups"), token: advTok, body: body}, 400, "")
		}
		s.fails(call{method: "POST", path: rp(fa.room, "/messages/direct"), token: advTok,
			body: `{"to":"` + string(fa.seekers[0]) + `","text":"   "}`}, 400, "invalid_field")
		s.fails(call{method: "POST", path: rp(fa.room, "/help"), token: seekerA, body: `{"note":"` + strings.Repeat("x", 501) + `"}`}, 400, "invalid_field")
		s.fails(call{method: "POST", path: rp(fa.room, "/help"), token: advTok, body: `{}`}, 403, "forbidden")
		s.fails(call{method: "GET", path: rp(fa.room, "/seekers?filter=everyone"), token: advTok}, 400, "invalid_query")
		var list struct{ Followups []store.FollowUp }
		s.ok(call{method: "GET", path: rp(fa.room, "/followups"), token: advTok}, 200, &list)
		if len(list.Followups) != 0 {
			t.Fatalf("bad input stored follow-ups: %+v", list.Followups)
		}

		// Help with the contact shared; the advisor's view shows it, and is audited.
		s.ok(call{method: "POST", path: rp(fa.room, "/help"), token: seekerA, body: `{"note":"first job","share_contact":true}`}, 201, nil)
		s.ok(call{method: "POST", path: rp(fa.room, "/followups"), token: advTok, body: fu}, 201, nil)
		// Asking over and over cannot flood the advisors: 3 in a burst, then 429.
		s.ok(call{method: "POST", path: rp(fa.room, "/help"), token: seekerA, body: `{"note":"first job","share_contact":true}`}, 201, nil)
		s.ok(call{method: "POST", path: rp(fa.room, "/help"), token: seekerA, body: `{"note":"first job","share_contact":true}`}, 201, nil)
		s.fails(call{method: "POST", path: rp(fa.room, "/help"), token: seekerA, body: `{}`}, 429, "")
		var seekers struct{ Seekers []store.RoomSeeker }
		s.ok(call{method: "GET", path: rp(fa.room, "/seekers"), token: advTok}, 200, &seekers)
		if len(seekers.Seekers) != 2 || seekers.Seekers[0].UserID != fa.seekers[0] || !seekers.Seekers[0].AskedHelp ||
			seekers.Seekers[0].Contact == "" || seekers.Seekers[1].Contact != "" || seekers.Seekers[0].Name != "Seeker 0" {
			t.Fatalf("advisor's seekers: %+v", seekers.Seekers)
		}
		s.ok(call{method: "GET", path: rp(fa.room, "/seekers?filter=help"), token: advTok}, 200, &seekers)
		if len(seekers.Seekers) != 1 {
			t.Fatalf("help filter: %+v", seekers.Seekers)
		}
		audit, err := db.RoomAudit(ctx, fa.room, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		views := map[string]int{}
		for _, e := range audit {
			if e.Action == advisor.AuditViewSeeker && e.ActorID == advID {
				views[e.TargetID]++
			}
		}
		if views[string(fa.seekers[0])] != 2 || views[string(fa.seekers[1])] != 1 {
			t.Fatalf("audit of advisor views: %v", views)
		}
		if audit, _ := db.RoomAudit(ctx, fb.room, 0, 100); len(audit) != 0 {
			t.Fatalf("room B audit has %d entries", len(audit))
		}
		// A second advisor of A sees nothing of the first one's thread, and the
		// seeker may reply only to the advisor who wrote.
		adv2ID, adv2Tok := staffUser(t, db, "advisorA2")
		assignAdvisor(t, db, fa.room, adv2ID)
		s.ok(call{method: "POST", path: rp(fa.room, "/messages/direct"), token: advTok,
			body: `{"to":"` + string(fa.seekers[0]) + `","text":"private"}`}, 201, nil)
		var thread struct{ Messages []store.DirectMessage }
		s.ok(call{method: "GET", path: rp(fa.room, "/messages/direct?with="+string(fa.seekers[0])), token: adv2Tok}, 200, &thread)
		if len(thread.Messages) != 0 {
			t.Fatalf("second advisor reads the first one's thread: %+v", thread.Messages)
		}
		s.fails(call{method: "POST", path: rp(fa.room, "/messages/direct"), token: seekerA,
			body: `{"to":"` + string(adv2ID) + `","text":"hi"}`}, 403, "forbidden")
		s.ok(call{method: "GET", path: rp(fa.room, "/messages/direct?with="+string(fa.seekers[0])), token: advTok}, 200, &thread)
		if len(thread.Messages) != 1 || thread.Messages[0].Text != "private" {
			t.Fatalf("advisor's thread: %+v", thread.Messages)
		}
		s.fails(call{method: "GET", path: rp(fa.room, "/messages/direct?with=x"), token: advTok}, 400, "invalid_id")
		audit, _ = db.RoomAudit(ctx, fa.room, 0, 100)
		if audit[0].Action != advisor.AuditViewSeeker || audit[0].TargetID != string(fa.seekers[0]) || !strings.Contains(audit[0].Data, "messages") {
			t.Fatalf("thread read not audited: %+v", audit[0])
		}

		// The host of A may read follow-ups (ActAdvise) but the host of B may not.
		s.ok(call{method: "GET", path: rp(fa.room, "/followups"), token: fa.host}, 200, &list)
		if len(list.Followups) != 1 {
			t.Fatalf("follow-ups: %+v", list.Followups)
		}
		s.fails(call{method: "GET", path: rp(fa.room, "/followups"), token: fb.host}, 403, "forbidden")
	})
}

// A scripted fair: 5 seekers (and the host) open the room, 3 applications,
// 2 seekers ask for help (3 asks), 3 follow-ups; the report counts exactly
// that, in JSON and in the CSV.
func TestRoomReportMatchesScriptedFair(t *testing.T) {
	eachDB(t, scriptedFairReport)
}

func scriptedFairReport(t *testing.T, s *srv) {
	db := s.app.DB
	ctx := context.Background()
	f := seedFair(t, db, 5, 4)
	advID, advTok := staffUser(t, db, "advisor")
	assignAdvisor(t, db, f.room, advID)
	hostID := hostOf(t, db, f.org)
	for _, u := range append([]live.UserID{hostID, advID}, f.seekers...) {
		if _, err := s.app.Live.Recommend.Push(ctx, f.room, live.Identity{UserID: u}); err != nil {
			t.Fatal(err)
		}
	}
	apply := func(seeker, job int) {
		s.ok(call{method: "POST", path: rp(f.room, "/jobs/"+string(f.jobs[job])+"/apply"), token: f.tokens[seeker], body: `{}`}, 201, nil)
	}
	apply(0, 0)
	apply(1, 0)
	apply(2, 1)
	s.ok(call{method: "POST", path: rp(f.room, "/help"), token: f.tokens[3], body: `{}`}, 201, nil)
	s.ok(call{method: "POST", path: rp(f.room, "/help"), token: f.tokens[3], body: `{"note":"again"}`}, 201, nil)
	s.ok(call{method: "POST", path: rp(f.room, "/help"), token: f.tokens[4], body: `{}`}, 201, nil)
	for _, b := range []string{
		`{"seeker_id":"` + string(f.seekers[3]) + `","outcome":"contacted"}`,
		`{"seeker_id":"` + string(f.seekers[3]) + `","outcome":"referred","job_id":"` + string(f.jobs[2]) + `"}`,
		`{"seeker_id":"` + string(f.seekers[4]) + `","outcome":"needs_training","note":"forklift licence course"}`,
	} {
		s.ok(call{method: "POST", path: rp(f.room, "/followups"), token: advTok, body: b}, 201, nil)
	}
	var noApp struct{ Seekers []store.RoomSeeker }
	s.ok(call{method: "GET", path: rp(f.room, "/seekers?filter=no_application"), token: advTok}, 200, &noApp)
	if len(noApp.Seekers) != 2 {
		t.Fatalf("seekers without an application: %d, want 2", len(noApp.Seekers))
	}

	// Viewer samples 3, 9, 4 (anonymous viewers included): the peak is 9.
	counter := &scriptedViewers{room: f.room, n: []int{3, 9, 4}}
	sampler := advisor.NewPeakSampler(db, counter, 0, quietLog())
	for range 3 {
		if err := sampler.SampleOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}

	var r advisor.Report
	s.ok(call{method: "GET", path: rp(f.room, "/report"), token: f.host}, 200, &r)
	if r.Viewers.Peak == nil || *r.Viewers.Peak != 9 {
		t.Fatalf("peak viewers %v, want 9", r.Viewers.Peak)
	}
	want := fmt.Sprintf("employers=1 jobs=4 unique=7 seekers=5 rec=5 rec3=5 pct=100.0 pushes=5 apps=3 help=2/3 fu=3/2 c=1 r=1 h=0 n=1")
	got := fmt.Sprintf("employers=%d jobs=%d unique=%d seekers=%d rec=%d rec3=%d pct=%.1f pushes=%d apps=%d help=%d/%d fu=%d/%d c=%d r=%d h=%d n=%d",
		r.Employers, r.Jobs, r.Viewers.UniqueSignedIn, r.Seekers.SignedIn, r.Seekers.Recommended, r.Seekers.Recommended3Plus,
		r.Seekers.Recommended3PlusPct, r.Seekers.Pushes, r.Apps.Total, r.Help.Seekers, r.Help.Asks, r.FollowUps.Total, r.FollowUps.Seekers,
		r.FollowUps.ByOutcome["contacted"], r.FollowUps.ByOutcome["referred"], r.FollowUps.ByOutcome["hired"], r.FollowUps.ByOutcome["needs_training"])
	if got != want {
		t.Fatalf("report\n got %s\nwant %s", got, want)
	}
	perJob := map[live.JobID]int{}
	for _, j := range r.Apps.PerJob {
		perJob[j.JobID] = j.Applications
	}
	if len(r.Apps.PerJob) != 4 || perJob[f.jobs[0]] != 2 || perJob[f.jobs[1]] != 1 || perJob[f.jobs[2]] != 0 {
		t.Fatalf("per job: %+v", r.Apps.PerJob)
	}
	if len(r.Apps.PerEmployer) != 1 || r.Apps.PerEmployer[0].Applications != 3 || r.Apps.PerEmployer[0].Jobs != 4 {
		t.Fatalf("per employer: %+v", r.Apps.PerEmployer)
	}
	raw := s.do(call{method: "GET", path: rp(f.room, "/report"), token: f.host}).Body.String()
	for _, pii := range []string{"Seeker", "138000000", "@example.test", "forklift licence", "again"} { // the seekers' phones, not "138" (ids hold it by chance)
		if strings.Contains(raw, pii) {
			t.Fatalf("report carries personal data %q: %s", pii, raw)
		}
	}
	w := s.do(call{method: "GET", path: rp(f.room, "/report.csv"), token: f.host})
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(body, "\ufeffsection,key,name,value\n") ||
		!strings.Contains(body, "seekers,recommended_3_plus,,5\n") || !strings.Contains(body, "applications,total,,3\n") || !strings.Contains(body, "viewers,peak,,9\n") ||
		!strings.Contains(body, "applications_per_job,"+string(f.jobs[0])+",Job 0,2\n") || !strings.Contains(body, "followups_by_outcome,referred,,1\n") {
		t.Fatalf("csv %d:\n%s", w.Code, body)
	}
	s.fails(call{method: "GET", path: rp(f.room, "/report.csv"), token: advTok}, 403, "forbidden")
}

// hostOf returns the owner of org.
func hostOf(t *testing.T, db *store.DB, org live.OrgID) live.UserID {
	t.Helper()
	ms, err := db.Members(context.Background(), org)
	if err != nil || len(ms) == 0 {
		t.Fatalf("members: %v %v", ms, err)
	}
	return ms[0].UserID
}

// secondFair is another live room of another org with 3 jobs and one
// seeker (seedFair's e-mail addresses collide when called twice at once).
func secondFair(t *testing.T, db *store.DB) seededFair {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var f seededFair
	host, hostTok := staffUser(t, db, "hostB")
	f.host, f.org, f.room = hostTok, live.NewID[live.OrgID](), live.NewID[live.RoomID]()
	if err := db.CreateOrg(ctx, live.Org{ID: f.org, Name: "Other bureau", CreatedAt: now}, host); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRoom(ctx, live.Room{ID: f.room, OrgID: f.org, Title: "Autumn fair", Status: live.RoomLive,
		StartsAt: now, Settings: live.DefaultSettings(), CreatedAt: now}, host); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		j := live.Job{ID: live.NewID[live.JobID](), OrgID: f.org, Title: fmt.Sprintf("B job %d", i), City: "Wuhan",
			SalaryPeriod: live.PerMonth, Openings: 1, Tags: []string{}, Status: live.JobOpen, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if err := db.AddToShelf(ctx, f.room, j.ID, f.org); err != nil {
			t.Fatal(err)
		}
		f.jobs = append(f.jobs, j.ID)
	}
	u, tok := staffUser(t, db, "seekerB")
	if _, err := db.PutProfile(ctx, u, live.Profile{FullName: "Seeker B", Phone: "13900000000", City: "Wuhan"}); err != nil {
		t.Fatal(err)
	}
	f.seekers, f.tokens = append(f.seekers, u), append(f.tokens, tok)
	return f
}

// A seeker in a room with one job gets the jobs of another live room too
// (with that room's id), the same over GET; a shelf change re-pushes to the
// room's recent seekers and every push is counted.
func TestRecommendationsFillFromOtherRoomsAndFollowTheShelf(t *testing.T) {
	s := newSrv(t)
	db := s.app.DB
	ctx := context.Background()
	f := seedFair(t, db, 1, 1)
	other := secondFair(t, db)
	d, err := s.app.Live.Recommend.Push(ctx, f.room, live.Identity{UserID: f.seekers[0]})
	if err != nil {
		t.Fatal(err)
	}
	if d.Count != 4 || !d.Complete || d.Jobs[0].Card.JobID != f.jobs[0] || d.Jobs[0].RoomID != f.room || d.Jobs[1].RoomID != other.room {
		t.Fatalf("recommendations: %+v", d)
	}
	var got jobs.RecommendationsData
	s.ok(call{method: "GET", path: rp(f.room, "/recommendations"), token: f.tokens[0]}, 200, &got)
	if got.Count != d.Count || got.Jobs[1].Card.JobID != d.Jobs[1].Card.JobID {
		t.Fatalf("GET recommendations %+v, pushed %+v", got, d)
	}
	s.fails(call{method: "GET", path: rp(f.room, "/recommendations")}, 401, "")
	// A new job on the shelf: the seeker gets a third push.
	now := time.Now().UTC()
	j := live.Job{ID: live.NewID[live.JobID](), OrgID: f.org, Title: "Forklift driver", City: "Wuhan", SalaryPeriod: live.PerMonth,
		Openings: 2, Tags: []string{}, Status: live.JobOpen, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	s.ok(call{method: "POST", path: rp(f.room, "/shelf"), token: f.host, body: `{"job_id":"` + string(j.ID) + `"}`}, 201, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := db.RoomReport(ctx, f.room)
		if err != nil {
			t.Fatal(err)
		}
		if n.RecommendationPushes == 3 && n.SeekersWith3 == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushes %d after the shelf change, want 3", n.RecommendationPushes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scriptedViewers answers successive viewer counts for the fair's room
// (and 0 for any other live room of the shared test database).
type scriptedViewers struct {
	mu   sync.Mutex
	room live.RoomID
	n    []int
}

func (v *scriptedViewers) Viewers(_ context.Context, room live.RoomID) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.room != "" && room != v.room {
		return 0, nil
	}
	if len(v.n) == 0 {
		return 0, nil
	}
	n := v.n[0]
	v.n = v.n[1:]
	return n, nil
}
