package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

const modAdminEmail = "admin@mod.test"

// modWorld is a room with every kind of user the permission rules know.
type modWorld struct {
	room, room2 live.RoomID
	org         live.OrgID
	host        account // owner of the room's org
	mod         account // moderator of room
	mod2        account // moderator of room2 only
	seeker      account // signed-in viewer
	recruiter   account // owner of another org
	admin       account // admin by config
	target      account // the seeker being moderated
	target2     account // a second one
	exhibitor   account // member of an exhibitor org of room
	advisor     account // career advisor of room
}

// modAPI performs one request: method, path, bearer token ("" = visitor)
// and JSON body ("" = none); it returns the status and the body.
type modAPI func(method, path, token, body string) (int, []byte)

func srvAPI(s *srv) modAPI {
	return func(method, path, token, body string) (int, []byte) {
		w := s.do(call{method: method, path: path, token: token, body: body})
		return w.Code, w.Body.Bytes()
	}
}

func mustStatus(t *testing.T, api modAPI, want int, method, path, token, body string, out any) {
	t.Helper()
	code, b := api(method, path, token, body)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func registerVia(t *testing.T, api modAPI, email string) account {
	t.Helper()
	var out struct {
		User  struct{ ID string } `json:"user"`
		Token string              `json:"token"`
	}
	mustStatus(t, api, 201, "POST", "/api/auth/register", "", `{"email":"`+email+`","password":"long enough","name":"N"}`, &out)
	return account{ID: out.User.ID, Token: out.Token, Email: email}
}

func newModWorld(t *testing.T, api modAPI) modWorld {
	t.Helper()
	var w modWorld
	w.host = registerVia(t, api, "host@mod.test")
	w.mod = registerVia(t, api, "mod@mod.test")
	w.mod2 = registerVia(t, api, "mod2@mod.test")
	w.seeker = registerVia(t, api, "seeker@mod.test")
	w.recruiter = registerVia(t, api, "rec@mod.test")
	w.admin = registerVia(t, api, modAdminEmail)
	w.target = registerVia(t, api, "target@mod.test")
	w.target2 = registerVia(t, api, "target2@mod.test")
	org := func(owner account, name string) live.OrgID {
		var out struct {
			Org struct{ ID live.OrgID } `json:"org"`
		}
		mustStatus(t, api, 201, "POST", "/api/orgs", owner.Token, `{"name":"`+name+`"}`, &out)
		return out.Org.ID
	}
	room := func(owner account, o live.OrgID) live.RoomID {
		var r live.Room
		mustStatus(t, api, 201, "POST", "/api/rooms", owner.Token, `{"title":"Fair","org_id":"`+string(o)+`"}`, &r)
		return r.ID
	}
	w.org = org(w.host, "Bureau")
	w.room = room(w.host, w.org)
	other := registerVia(t, api, "host2@mod.test")
	w.room2 = room(other, org(other, "Other bureau"))
	org(w.recruiter, "Employer")
	mustStatus(t, api, 201, "POST", "/api/rooms/"+string(w.room)+"/moderators", w.host.Token, `{"user_id":"`+w.mod.ID+`"}`, nil)
	mustStatus(t, api, 201, "POST", "/api/rooms/"+string(w.room2)+"/moderators", other.Token, `{"user_id":"`+w.mod2.ID+`"}`, nil)
	w.exhibitor = registerVia(t, api, "exhibitor@mod.test")
	mustStatus(t, api, 201, "POST", "/api/rooms/"+string(w.room)+"/exhibitors", w.host.Token, `{"org_id":"`+string(org(w.exhibitor, "Exhibitor"))+`"}`, nil)
	w.advisor = registerVia(t, api, "advisor@mod.test")
	mustStatus(t, api, 201, "POST", "/api/rooms/"+string(w.room)+"/advisors", w.host.Token, `{"user_id":"`+w.advisor.ID+`"}`, nil)
	return w
}

func modConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.AdminEmails = []string{modAdminEmail}
	return cfg
}

// eachModDB runs fn on an app over SQLite and one over PostgreSQL.
func eachModDB(t *testing.T, fn func(t *testing.T, s *srv)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newSrvCfg(t, modConfig(t), Options{})) })
	t.Run("postgres", func(t *testing.T) {
		cfg := modConfig(t)
		cfg.DatabaseURL = storetest.PostgresURL(t)
		fn(t, newSrvCfg(t, cfg, Options{}))
	})
}

// postChat puts a chat message by user into room's stream and returns its seq.
func postChat(t *testing.T, s *srv, room live.RoomID, user string, text string) uint64 {
	t.Helper()
	msg := live.ChatData{ID: string(live.NewID[live.UserID]()), UserID: live.UserID(user), Name: "N", Role: live.RoleSeeker, Text: text}
	seq, err := s.app.Live.Chat.Publish(context.Background(), room, live.NewEvent(live.EvChat, msg))
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func counts(t *testing.T, db *store.DB, room live.RoomID) store.ModerationCounts {
	t.Helper()
	c, err := db.RoomModerationCounts(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func lastAudit(t *testing.T, db *store.DB, room live.RoomID) store.AuditEntry {
	t.Helper()
	es, err := db.RoomAudit(context.Background(), room, 0, 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %v %v", es, err)
	}
	return es[0]
}

// TestModerationPermissionMatrix: every moderation endpoint × every kind
// of user. Only the room's moderator, its host and the admin succeed; every
// refusal is in the error shape and changes nothing (bans, mutes, held
// queue, settings, audit rows, the message); every success writes one
// audit row with the actor, their role and the reason.
func TestModerationPermissionMatrix(t *testing.T) {
	eachModDB(t, func(t *testing.T, s *srv) {
		api := srvAPI(s)
		w := newModWorld(t, api)
		db, ctx := s.app.DB, context.Background()
		base := "/api/rooms/" + string(w.room)
		type prepared struct {
			method, path, body string
			after              func(t *testing.T, ok bool) // extra checks
		}
		toggle := 0
		endpoints := []struct {
			name    string
			mutates bool
			okCode  int
			prep    func(t *testing.T, reason string) prepared
		}{
			{"delete message", true, 200, func(t *testing.T, reason string) prepared {
				seq := postChat(t, s, w.room, w.target.ID, "hello")
				return prepared{"DELETE", fmt.Sprintf("%s/messages/%d", base, seq), `{"reason":"` + reason + `"}`, func(t *testing.T, ok bool) {
					_, err := s.app.Live.Chat.ChatMessage(ctx, w.room, seq)
					if gone := err != nil; gone != ok {
						t.Fatalf("message gone = %v after ok = %v (%v)", gone, ok, err)
					}
				}}
			}},
			{"mute", true, 201, func(t *testing.T, reason string) prepared {
				return prepared{"POST", base + "/mutes", `{"user_id":"` + w.target.ID + `","seconds":60,"reason":"` + reason + `"}`, nil}
			}},
			{"unmute", true, 200, func(t *testing.T, reason string) prepared {
				if err := db.Mute(ctx, w.room, live.UserID(w.target.ID), "", time.Now().Add(time.Hour), "x"); err != nil {
					t.Fatal(err)
				}
				return prepared{"DELETE", base + "/mutes/" + w.target.ID, `{"reason":"` + reason + `"}`, nil}
			}},
			{"ban", true, 201, func(t *testing.T, reason string) prepared {
				_ = db.Unban(ctx, w.room, live.UserID(w.target.ID))
				return prepared{"POST", base + "/bans", `{"user_id":"` + w.target.ID + `","reason":"` + reason + `"}`, nil}
			}},
			{"unban by path", true, 200, func(t *testing.T, reason string) prepared {
				if err := db.Ban(ctx, w.room, live.UserID(w.target.ID), "", "x"); err != nil {
					t.Fatal(err)
				}
				return prepared{"DELETE", base + "/bans/" + w.target.ID, `{"reason":"` + reason + `"}`, nil}
			}},
			{"unban by body", true, 200, func(t *testing.T, reason string) prepared {
				if err := db.Ban(ctx, w.room, live.UserID(w.target2.ID), "", "x"); err != nil {
					t.Fatal(err)
				}
				return prepared{"DELETE", base + "/bans", `{"user_id":"` + w.target2.ID + `","reason":"` + reason + `"}`, nil}
			}},
			{"settings", true, 200, func(t *testing.T, reason string) prepared {
				toggle++
				return prepared{"PATCH", base + "/settings", fmt.Sprintf(`{"slow_mode_seconds":%d,"chat":"profile_complete","blocked_words":["spam%d"],"mask_pii":true,"hold_scams":true,"reason":"%s"}`, toggle, toggle, reason), nil}
			}},
			{"approve held", true, 200, func(t *testing.T, reason string) prepared {
				id := string(live.NewID[live.UserID]())
				if err := s.app.DB.HoldMessage(ctx, store.HeldMessage{ID: id, RoomID: w.room, UserID: live.UserID(w.target.ID),
					Message: live.ChatData{ID: id, UserID: live.UserID(w.target.ID), Text: "pay 押金"}, Reason: "scam"}); err != nil {
					t.Fatal(err)
				}
				return prepared{"POST", base + "/held/" + id + "/approve", `{"reason":"` + reason + `"}`, nil}
			}},
			{"reject held", true, 200, func(t *testing.T, reason string) prepared {
				id := string(live.NewID[live.UserID]())
				if err := s.app.DB.HoldMessage(ctx, store.HeldMessage{ID: id, RoomID: w.room, UserID: live.UserID(w.target.ID),
					Message: live.ChatData{ID: id, UserID: live.UserID(w.target.ID), Text: "pay 押金"}, Reason: "scam"}); err != nil {
					t.Fatal(err)
				}
				return prepared{"POST", base + "/held/" + id + "/reject", `{"reason":"` + reason + `"}`, nil}
			}},
			{"list bans", false, 200, func(*testing.T, string) prepared { return prepared{"GET", base + "/bans", "", nil} }},
			{"list mutes", false, 200, func(*testing.T, string) prepared { return prepared{"GET", base + "/mutes", "", nil} }},
			{"list held", false, 200, func(*testing.T, string) prepared { return prepared{"GET", base + "/held", "", nil} }},
			{"audit", false, 200, func(*testing.T, string) prepared { return prepared{"GET", base + "/audit?limit=5", "", nil} }},
		}
		actors := []struct {
			name    string
			acc     account
			allowed bool
			role    live.Role
			status  int
			code    string
		}{
			{"visitor", account{}, false, "", 401, "unauthenticated"},
			{"seeker", w.seeker, false, "", 403, "forbidden"},
			{"recruiter of another org", w.recruiter, false, "", 403, "forbidden"},
			{"moderator of another room", w.mod2, false, "", 403, "forbidden"},
			{"exhibitor", w.exhibitor, false, "", 403, "forbidden"},
			{"advisor", w.advisor, false, "", 403, "forbidden"},
			{"moderator", w.mod, true, live.RoleModerator, 0, ""},
			{"host", w.host, true, live.RoleHost, 0, ""},
			{"admin", w.admin, true, live.RoleAdmin, 0, ""},
		}
		for _, ep := range endpoints {
			for _, a := range actors {
				t.Run(ep.name+"/"+a.name, func(t *testing.T) {
					reason := strings.ReplaceAll(ep.name+" by "+a.name, " ", "_")
					p := ep.prep(t, reason)
					before := counts(t, db, w.room)
					code, body := api(p.method, p.path, a.acc.Token, p.body)
					after := counts(t, db, w.room)
					if !a.allowed {
						checkErrorBytes(t, p.method+" "+p.path, code, body, a.status, a.code)
						if !reflect.DeepEqual(before, after) {
							t.Fatalf("refused request changed state: %+v → %+v", before, after)
						}
						if p.after != nil {
							p.after(t, false)
						}
						return
					}
					if code != ep.okCode {
						t.Fatalf("%s %s: status %d, want %d: %s", p.method, p.path, code, ep.okCode, body)
					}
					if p.after != nil {
						p.after(t, true)
					}
					if !ep.mutates {
						if after.Audit != before.Audit {
							t.Fatalf("a read wrote %d audit rows", after.Audit-before.Audit)
						}
						return
					}
					if after.Audit != before.Audit+1 {
						t.Fatalf("audit rows %d → %d, want one more", before.Audit, after.Audit)
					}
					e := lastAudit(t, db, w.room)
					var d struct {
						Role live.Role `json:"role"`
					}
					_ = json.Unmarshal([]byte(e.Data), &d)
					if string(e.ActorID) != a.acc.ID || e.Reason != reason || d.Role != a.role {
						t.Fatalf("audit row %+v: want actor %s, reason %q, role %s", e, a.acc.ID, reason, a.role)
					}
				})
			}
		}
		// The audit API shows them, newest first, paginated.
		var page struct {
			Entries []struct {
				ID     int64     `json:"id"`
				Role   live.Role `json:"role"`
				Reason string    `json:"reason"`
				Action string    `json:"action"`
			} `json:"entries"`
			NextBefore *int64 `json:"next_before"`
		}
		mustStatus(t, api, 200, "GET", base+"/audit?limit=3", w.mod.Token, "", &page)
		if len(page.Entries) != 3 || page.NextBefore == nil || page.Entries[0].Role == "" || page.Entries[0].Reason == "" {
			t.Fatalf("audit page: %+v", page)
		}
		first := page.Entries[0].ID
		mustStatus(t, api, 200, "GET", fmt.Sprintf("%s/audit?limit=3&before=%d", base, *page.NextBefore), w.host.Token, "", &page)
		if len(page.Entries) == 0 || page.Entries[0].ID >= first {
			t.Fatalf("second page: %+v", page)
		}
	})
}

func checkErrorBytes(t *testing.T, what string, code int, body []byte, status int, errCode string) {
	t.Helper()
	w := newRecorder()
	w.Code = code
	w.Header().Set("Content-Type", "application/json")
	w.Body.Write(body)
	checkError(t, what, w, status, errCode)
}

// TestModerationTargetRules: nobody moderates the host or an admin,
// moderators do not moderate each other (the host and the admin may), nobody
// moderates themselves; each refusal is a 403 cannot_moderate that changes
// nothing. Bad input is a 400 that changes nothing.
func TestModerationTargetRules(t *testing.T) {
	s := newSrvCfg(t, modConfig(t), Options{})
	api := srvAPI(s)
	w := newModWorld(t, api)
	db := s.app.DB
	base := "/api/rooms/" + string(w.room)
	other := registerVia(t, api, "mod3@mod.test")
	mustStatus(t, api, 201, "POST", base+"/moderators", w.host.Token, `{"user_id":"`+other.ID+`"}`, nil)
	refuse := func(name string, actor account, method, path, body string, status int, code string) {
		t.Run(name, func(t *testing.T) {
			before := counts(t, db, w.room)
			c, b := api(method, path, actor.Token, body)
			checkErrorBytes(t, name, c, b, status, code)
			if after := counts(t, db, w.room); !reflect.DeepEqual(before, after) {
				t.Fatalf("changed: %+v → %+v", before, after)
			}
		})
	}
	ban := func(u account) string { return `{"user_id":"` + u.ID + `","reason":"r"}` }
	mute := func(u account) string { return `{"user_id":"` + u.ID + `","seconds":30}` }
	refuse("moderator bans host", w.mod, "POST", base+"/bans", ban(w.host), 403, "cannot_moderate")
	refuse("moderator mutes admin", w.mod, "POST", base+"/mutes", mute(w.admin), 403, "cannot_moderate")
	refuse("admin bans host", w.admin, "POST", base+"/bans", ban(w.host), 403, "cannot_moderate")
	refuse("moderator bans moderator", w.mod, "POST", base+"/bans", ban(other), 403, "cannot_moderate")
	refuse("moderator mutes self", w.mod, "POST", base+"/mutes", mute(w.mod), 403, "cannot_moderate")
	refuse("host mutes admin", w.host, "POST", base+"/mutes", mute(w.admin), 403, "cannot_moderate")
	seq := postChat(t, s, w.room, w.host.ID, "welcome everyone")
	refuse("moderator deletes host's message", w.mod, "DELETE", fmt.Sprintf("%s/messages/%d", base, seq), "", 403, "cannot_moderate")
	refuse("unknown user", w.mod, "POST", base+"/bans", `{"user_id":"`+string(live.NewID[live.UserID]())+`"}`, 404, "user_not_found")
	refuse("unknown room", w.mod, "POST", "/api/rooms/"+string(live.NewID[live.RoomID]())+"/bans", ban(w.target), 404, "not_found")
	refuse("bad room id", w.mod, "POST", "/api/rooms/nope/bans", ban(w.target), 400, "invalid_id")
	refuse("bad user id", w.mod, "POST", base+"/bans", `{"user_id":"x"}`, 400, "invalid_field")
	refuse("unknown field", w.mod, "POST", base+"/bans", `{"user_id":"`+w.target.ID+`","why":"x"}`, 400, "unknown_field")
	refuse("zero seconds", w.mod, "POST", base+"/mutes", `{"user_id":"`+w.target.ID+`","seconds":0}`, 400, "invalid_field")
	refuse("a year", w.mod, "POST", base+"/mutes", `{"user_id":"`+w.target.ID+`","seconds":31536000}`, 400, "invalid_field")
	refuse("long reason", w.mod, "POST", base+"/bans", `{"user_id":"`+w.target.ID+`","reason":"`+strings.Repeat("x", 501)+`"}`, 400, "invalid_field")
	refuse("bad chat mode", w.mod, "PATCH", base+"/settings", `{"chat":"loud","slow_mode_seconds":5}`, 400, "invalid_field")
	refuse("slow mode too long", w.mod, "PATCH", base+"/settings", `{"slow_mode_seconds":3601}`, 400, "invalid_field")
	refuse("too many blocked words", w.mod, "PATCH", base+"/settings", manyWords(201), 400, "invalid_field")
	refuse("null blocked words", w.mod, "PATCH", base+"/settings", `{"blocked_words":null}`, 400, "empty_patch")
	refuse("empty patch", w.mod, "PATCH", base+"/settings", `{}`, 400, "empty_patch")
	refuse("bad seq", w.mod, "DELETE", base+"/messages/abc", "", 400, "invalid_id")
	refuse("unknown seq", w.mod, "DELETE", base+"/messages/999999", "", 404, "not_found")
	refuse("unmute someone not muted", w.mod, "DELETE", base+"/mutes/"+w.target.ID, "", 404, "not_muted")
	refuse("unban someone not banned", w.mod, "DELETE", base+"/bans/"+w.target.ID, "", 404, "not_banned")
	refuse("unknown held message", w.mod, "POST", base+"/held/"+string(live.NewID[live.UserID]())+"/approve", "", 404, "not_found")
	refuse("audit limit", w.mod, "GET", base+"/audit?limit=0", "", 400, "invalid_query")

	// The host and the admin may act on a moderator; a moderator may delete
	// their own message.
	mustStatus(t, api, 201, "POST", base+"/mutes", w.host.Token, mute(other), nil)
	mustStatus(t, api, 201, "POST", base+"/bans", w.admin.Token, ban(other), nil)
	mustStatus(t, api, 200, "POST", base+"/bans", w.admin.Token, ban(other), nil) // repeat: 200, same ban
	own := postChat(t, s, w.room, w.mod.ID, "mine")
	mustStatus(t, api, 200, "DELETE", fmt.Sprintf("%s/messages/%d", base, own), w.mod.Token, "", nil)
	// Settings are a partial update, normalized.
	var out struct {
		Settings live.RoomSettings `json:"settings"`
	}
	mustStatus(t, api, 200, "PATCH", base+"/settings", w.mod.Token, `{"blocked_words":[" Spam ","spam","x"]}`, &out)
	if !reflect.DeepEqual(out.Settings.BlockedWords, []string{"Spam", "x"}) || out.Settings.Chat != live.ChatOpen || !out.Settings.MaskPII {
		t.Fatalf("settings %+v", out.Settings)
	}
	// A decided held message cannot be decided again.
	id := string(live.NewID[live.UserID]())
	if err := db.HoldMessage(context.Background(), store.HeldMessage{ID: id, RoomID: w.room, UserID: live.UserID(w.target.ID), Message: live.ChatData{ID: id}}); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, api, 200, "POST", base+"/held/"+id+"/reject", w.mod.Token, "", nil)
	refuse("decided twice", w.host, "POST", base+"/held/"+id+"/approve", "", 409, "already_decided")
}

func manyWords(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = fmt.Sprintf("%q", fmt.Sprintf("w%d", i))
	}
	return `{"blocked_words":[` + strings.Join(ws, ",") + `]}`
}
