package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"jobcast/live"
)

type roomOut struct {
	ID       string `json:"id"`
	OrgID    string `json:"org_id"`
	OrgName  string `json:"org_name"`
	Status   string `json:"status"`
	Title    string `json:"title"`
	StartsAt string `json:"starts_at"`
}

type snapOut struct {
	Room       roomOut `json:"room"`
	Shelf      []any   `json:"shelf"`
	Pinned     any     `json:"pinned"`
	Exhibitors []struct {
		ID string `json:"id"`
	} `json:"exhibitors"`
	Viewers int    `json:"viewers"`
	Role    string `json:"role"`
}

type keyOut struct {
	Key     string  `json:"key"`
	HasKey  bool    `json:"has_key"`
	Hint    string  `json:"hint"`
	Rotated *string `json:"rotated_at"`
	WHIP    string  `json:"whip_url"`
}

type staffOut struct {
	Staff []struct {
		UserID string `json:"user_id"`
		Role   string `json:"role"`
	} `json:"staff"`
}

func TestRooms(t *testing.T) {
	eachDB(t, func(t *testing.T, s *srv) {
		host, mod, adv := s.register("host@bureau.example"), s.register("mod@bureau.example"), s.register("adv@bureau.example")
		other, seeker := s.register("rec@b.example"), s.register("seeker@x.example")
		bureau := s.createOrg(host, "就业服务局")
		orgB := s.createOrg(other, "Bolt")
		starts := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)

		var r roomOut
		s.ok(call{method: "POST", path: "/api/rooms", token: host.Token,
			body: `{"title":"Spring job fair","description":"29 employers","org_id":"` + bureau + `","starts_at":"` + starts + `"}`}, 201, &r)
		if r.Status != "scheduled" || r.OrgID != bureau || r.OrgName != "就业服务局" {
			t.Fatalf("room: %+v", r)
		}
		room := "/api/rooms/" + r.ID
		s.fails(call{method: "POST", path: "/api/rooms", token: other.Token, body: `{"title":"Fake","org_id":"` + bureau + `"}`}, 403, "not_member")

		var list struct {
			Rooms []roomOut `json:"rooms"`
		}
		s.ok(call{method: "GET", path: "/api/rooms?status=scheduled"}, 200, &list)
		if len(list.Rooms) != 1 || list.Rooms[0].ID != r.ID {
			t.Fatalf("rooms: %+v", list)
		}
		s.ok(call{method: "GET", path: "/api/rooms?status=live"}, 200, &list)
		if len(list.Rooms) != 0 {
			t.Fatalf("live rooms: %+v", list)
		}

		var snap snapOut
		s.ok(call{method: "GET", path: room}, 200, &snap)
		if snap.Role != "visitor" || snap.Room.ID != r.ID || snap.Shelf == nil || len(snap.Exhibitors) != 0 {
			t.Fatalf("visitor snapshot: %+v", snap)
		}
		s.ok(call{method: "GET", path: room, token: host.Token}, 200, &snap)
		if snap.Role != "host" {
			t.Fatalf("host role: %q", snap.Role)
		}

		// exhibitors
		var ex struct {
			Exhibitors []struct{ ID string } `json:"exhibitors"`
		}
		s.ok(call{method: "POST", path: room + "/exhibitors", token: host.Token, body: `{"org_id":"` + orgB + `"}`}, 201, &ex)
		if len(ex.Exhibitors) != 1 || ex.Exhibitors[0].ID != orgB {
			t.Fatalf("exhibitors: %+v", ex)
		}
		s.fails(call{method: "POST", path: room + "/exhibitors", token: host.Token, body: `{"org_id":"` + orgB + `"}`}, 409, "already_exhibitor")
		s.fails(call{method: "POST", path: room + "/exhibitors", token: host.Token, body: `{"org_id":"` + bureau + `"}`}, 409, "org_is_host")
		s.fails(call{method: "POST", path: room + "/exhibitors", token: host.Token, body: `{"org_id":"0190a1b2-0000-7000-8000-000000000000"}`}, 404, "not_found")
		s.ok(call{method: "GET", path: room, token: other.Token}, 200, &snap)
		if snap.Role != "exhibitor" || len(snap.Exhibitors) != 1 {
			t.Fatalf("exhibitor snapshot: %+v", snap)
		}

		// moderators and advisors, by email and by id
		var st staffOut
		s.ok(call{method: "POST", path: room + "/moderators", token: host.Token, body: `{"email":"MOD@bureau.example"}`}, 201, &st)
		s.ok(call{method: "POST", path: room + "/advisors", token: host.Token, body: `{"user_id":"` + adv.ID + `"}`}, 201, &st)
		if len(st.Staff) != 2 {
			t.Fatalf("staff: %+v", st)
		}
		s.fails(call{method: "POST", path: room + "/moderators", token: host.Token, body: `{"user_id":"` + mod.ID + `"}`}, 409, "already_assigned")
		s.fails(call{method: "POST", path: room + "/moderators", token: host.Token, body: `{"email":"ghost@x.example"}`}, 404, "user_not_found")
		s.fails(call{method: "POST", path: room + "/moderators", token: host.Token, body: `{}`}, 400, "invalid_field")
		s.fails(call{method: "POST", path: room + "/moderators", token: host.Token, body: `{"user_id":"` + mod.ID + `","email":"x@y.example"}`}, 400, "invalid_field")
		s.ok(call{method: "GET", path: room + "/staff", token: mod.Token}, 200, &st)
		s.ok(call{method: "GET", path: room, token: mod.Token}, 200, &snap)
		if snap.Role != "moderator" {
			t.Fatalf("moderator role %q", snap.Role)
		}
		s.ok(call{method: "DELETE", path: room + "/advisors", token: host.Token, body: `{"user_id":"` + adv.ID + `"}`}, 200, &st)
		if len(st.Staff) != 1 {
			t.Fatalf("staff after delete: %+v", st)
		}
		s.fails(call{method: "DELETE", path: room + "/advisors", token: host.Token, body: `{"user_id":"` + adv.ID + `"}`}, 404, "not_found")

		// stream key: host only; hashed at rest, shown once on rotate
		var k keyOut
		s.ok(call{method: "GET", path: room + "/stream-key", token: host.Token}, 200, &k)
		if k.HasKey || k.Key != "" || k.WHIP != room+"/whip" {
			t.Fatalf("fresh key: %+v", k)
		}
		s.ok(call{method: "POST", path: room + "/stream-key/rotate", token: host.Token}, 200, &k)
		if !strings.HasPrefix(k.Key, "sk_") || !k.HasKey || !strings.HasSuffix(k.Key, strings.TrimPrefix(k.Hint, "…")) {
			t.Fatalf("rotated key: %+v", k)
		}
		first := k.Key
		var shown keyOut
		s.ok(call{method: "GET", path: room + "/stream-key", token: host.Token}, 200, &shown)
		if shown.Key != "" || !shown.HasKey || shown.Hint != k.Hint || shown.Rotated == nil {
			t.Fatalf("key info: %+v", shown)
		}
		ctx := context.Background()
		rid := live.RoomID(r.ID)
		if ok, err := s.app.Rooms.CheckStreamKey(ctx, rid, first); !ok || err != nil {
			t.Fatalf("CheckStreamKey(current) = %v, %v", ok, err)
		}
		s.ok(call{method: "POST", path: room + "/stream-key/rotate", token: host.Token}, 200, &k)
		if ok, _ := s.app.Rooms.CheckStreamKey(ctx, rid, first); ok {
			t.Fatal("old stream key still accepted after rotate")
		}
		if ok, _ := s.app.Rooms.CheckStreamKey(ctx, rid, k.Key); !ok {
			t.Fatal("new stream key refused")
		}

		// org B (an exhibitor!), a moderator and a seeker hold no host powers
		for _, who := range []account{other, mod, seeker} {
			s.fails(call{method: "GET", path: room + "/stream-key", token: who.Token}, 403, "forbidden")
			s.fails(call{method: "POST", path: room + "/stream-key/rotate", token: who.Token}, 403, "forbidden")
			s.fails(call{method: "POST", path: room + "/exhibitors", token: who.Token, body: `{"org_id":"` + orgB + `"}`}, 403, "forbidden")
			s.fails(call{method: "DELETE", path: room + "/exhibitors/" + orgB, token: who.Token}, 403, "forbidden")
			s.fails(call{method: "POST", path: room + "/moderators", token: who.Token, body: `{"user_id":"` + seeker.ID + `"}`}, 403, "forbidden")
			s.fails(call{method: "DELETE", path: room + "/moderators", token: who.Token, body: `{"user_id":"` + mod.ID + `"}`}, 403, "forbidden")
		}
		for _, who := range []account{other, seeker} {
			s.fails(call{method: "POST", path: room + "/end", token: who.Token}, 403, "forbidden")
			s.fails(call{method: "GET", path: room + "/staff", token: who.Token}, 403, "forbidden")
		}
		if ok, _ := s.app.Rooms.CheckStreamKey(ctx, rid, k.Key); !ok {
			t.Fatal("refused requests changed the stream key")
		}
		w := s.do(call{method: "GET", path: room + "/stream-key", token: other.Token})
		if strings.Contains(w.Body.String(), k.Hint) {
			t.Fatal("forbidden answer leaked the key hint")
		}

		s.ok(call{method: "DELETE", path: room + "/exhibitors/" + orgB, token: host.Token}, 200, &ex)
		if len(ex.Exhibitors) != 0 {
			t.Fatalf("exhibitors after delete: %+v", ex)
		}

		// lifecycle: a moderator may end; ended rooms stay ended
		if _, err := s.app.Rooms.SetStatus(ctx, rid, live.RoomLive); err != nil {
			t.Fatal(err)
		}
		s.ok(call{method: "GET", path: "/api/rooms?status=live"}, 200, &list)
		if len(list.Rooms) != 1 {
			t.Fatalf("live rooms: %+v", list)
		}
		var ended roomOut
		s.ok(call{method: "POST", path: room + "/end", token: mod.Token}, 200, &ended)
		if ended.Status != "ended" {
			t.Fatalf("ended: %+v", ended)
		}
		s.fails(call{method: "POST", path: room + "/end", token: host.Token}, 422, "invalid_transition")
		s.fails(call{method: "POST", path: room + "/stream-key/rotate", token: host.Token}, 422, "room_ended")
		s.fails(call{method: "POST", path: room + "/moderators", token: host.Token, body: `{"user_id":"` + adv.ID + `"}`}, 422, "room_ended")

		// the audit log recorded who did what (ids only)
		entries, err := s.app.DB.RoomAudit(ctx, rid, 0, 100)
		if err != nil || len(entries) < 8 {
			t.Fatalf("audit: %d %v", len(entries), err)
		}
		if entries[0].Action != "room.ended" || string(entries[0].ActorID) != mod.ID {
			t.Fatalf("last audit entry: %+v", entries[0])
		}
	})
}

func TestRoomsAnonymousAndBadInput(t *testing.T) {
	s := newSrv(t)
	host := s.register("h@x.example")
	org := s.createOrg(host, "Acme")
	var r roomOut
	s.ok(call{method: "POST", path: "/api/rooms", token: host.Token, body: `{"title":"Live","org_id":"` + org + `"}`}, 201, &r)
	room := "/api/rooms/" + r.ID
	for _, c := range []call{
		{method: "POST", path: "/api/rooms", body: `{"title":"x","org_id":"` + org + `"}`},
		{method: "POST", path: room + "/exhibitors", body: `{"org_id":"` + org + `"}`},
		{method: "DELETE", path: room + "/exhibitors/" + org},
		{method: "GET", path: room + "/staff"},
		{method: "POST", path: room + "/moderators", body: `{"user_id":"` + host.ID + `"}`},
		{method: "DELETE", path: room + "/moderators", body: `{"user_id":"` + host.ID + `"}`},
		{method: "POST", path: room + "/advisors", body: `{"user_id":"` + host.ID + `"}`},
		{method: "DELETE", path: room + "/advisors", body: `{"user_id":"` + host.ID + `"}`},
		{method: "GET", path: room + "/stream-key"},
		{method: "POST", path: room + "/stream-key/rotate"},
		{method: "POST", path: room + "/end"},
	} {
		s.fails(c, 401, "unauthenticated")
	}
	cases := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"malformed", call{method: "POST", path: "/api/rooms", body: `{"title":`}, 400, "malformed_json"},
		{"unknown field", call{method: "POST", path: "/api/rooms", body: `{"title":"x","org_id":"` + org + `","status":"live"}`}, 400, "unknown_field"},
		{"wrong type", call{method: "POST", path: "/api/rooms", body: `{"title":["x"],"org_id":"` + org + `"}`}, 400, "wrong_type"},
		{"bad time", call{method: "POST", path: "/api/rooms", body: `{"title":"x","org_id":"` + org + `","starts_at":"tomorrow"}`}, 400, "invalid_field"},
		{"far future", call{method: "POST", path: "/api/rooms", body: `{"title":"x","org_id":"` + org + `","starts_at":"2999-01-01T00:00:00Z"}`}, 400, "invalid_field"},
		{"no title", call{method: "POST", path: "/api/rooms", body: `{"title":" ","org_id":"` + org + `"}`}, 400, "invalid_field"},
		{"bad org", call{method: "POST", path: "/api/rooms", body: `{"title":"x","org_id":"acme"}`}, 400, "invalid_field"},
		{"unknown org", call{method: "POST", path: "/api/rooms", body: `{"title":"x","org_id":"0190a1b2-0000-7000-8000-000000000000"}`}, 404, "not_found"},
		{"too large", call{method: "POST", path: "/api/rooms", body: `{"title":"x","description":"` + strings.Repeat("d", 70000) + `"}`}, 413, "body_too_large"},
		{"bad status", call{method: "GET", path: "/api/rooms?status=paused"}, 400, "invalid_query"},
		{"bad room id", call{method: "GET", path: "/api/rooms/xyz"}, 400, "invalid_id"},
		{"unknown room", call{method: "GET", path: "/api/rooms/0190a1b2-0000-7000-8000-000000000000"}, 404, "not_found"},
		{"exhibitor wrong type", call{method: "POST", path: room + "/exhibitors", body: `{"org_id":5}`}, 400, "wrong_type"},
		{"staff bad id", call{method: "POST", path: room + "/moderators", body: `{"user_id":"bob"}`}, 400, "invalid_field"},
		{"staff unknown field", call{method: "POST", path: room + "/moderators", body: `{"user":"bob"}`}, 400, "unknown_field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.token = host.Token
			s.fails(tc.c, tc.status, tc.code)
		})
	}
	var list struct {
		Rooms []roomOut `json:"rooms"`
	}
	s.ok(call{method: "GET", path: "/api/rooms"}, 200, &list)
	if len(list.Rooms) != 1 {
		t.Fatalf("bad input created rooms: %d", len(list.Rooms))
	}
}
