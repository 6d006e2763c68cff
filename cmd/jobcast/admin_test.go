package main

import "testing"

// TestAdminActsEverywhere: an account listed in JOBCAST_ADMIN_EMAILS may
// act as owner of every org and host of every room; nobody else gains that
// by registering.
func TestAdminActsEverywhere(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminEmails = []string{"Ops@Example.org"}
	s := newSrvCfg(t, cfg, Options{})
	owner, admin, plain := s.register("owner@a.example"), s.register("ops@example.org"), s.register("plain@x.example")
	org := s.createOrg(owner, "Acme")
	var me struct {
		User struct {
			Admin bool `json:"admin"`
		} `json:"user"`
	}
	s.ok(call{method: "GET", path: "/api/me", token: admin.Token}, 200, &me)
	if !me.User.Admin {
		t.Fatal("configured admin is not admin")
	}
	s.ok(call{method: "GET", path: "/api/me", token: plain.Token}, 200, &me)
	if me.User.Admin {
		t.Fatal("plain user is admin")
	}
	s.ok(call{method: "GET", path: "/api/orgs/" + org + "/jobs", token: admin.Token}, 200, nil)
	s.ok(call{method: "POST", path: "/api/orgs/" + org + "/members", token: admin.Token, body: `{"email":"plain@x.example","role":"recruiter"}`}, 201, nil)
	var r roomOut
	s.ok(call{method: "POST", path: "/api/rooms", token: owner.Token, body: `{"title":"Fair","org_id":"` + org + `"}`}, 201, &r)
	s.ok(call{method: "POST", path: "/api/rooms/" + r.ID + "/stream-key/rotate", token: admin.Token}, 200, nil)
	s.ok(call{method: "POST", path: "/api/rooms/" + r.ID + "/end", token: admin.Token}, 200, nil)
}
