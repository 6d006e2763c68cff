package moderation_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"jobcast/live"
	"jobcast/moderation"
	"jobcast/rooms"
	"jobcast/store"
	"jobcast/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

// fakeChannel records what moderation announces; fail makes every call
// fail (the broker is down). Messages maps seq → chat message in history.
type fakeChannel struct {
	mu        sync.Mutex
	fail      bool
	published []live.Event
	toUser    []live.Event
	toStaff   []live.Event
	kicks     []live.UserID
	messages  map[uint64]live.ChatData
	deleted   []uint64
}

var errDown = errors.New("broker down")

func (f *fakeChannel) Publish(_ context.Context, _ live.RoomID, ev live.Event) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errDown
	}
	f.published = append(f.published, ev)
	return uint64(len(f.published)), nil
}

func (f *fakeChannel) ToUser(_ context.Context, _ live.RoomID, _ live.UserID, ev live.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errDown
	}
	f.toUser = append(f.toUser, ev)
	return nil
}

func (f *fakeChannel) ToStaff(_ context.Context, _ live.RoomID, ev live.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errDown
	}
	f.toStaff = append(f.toStaff, ev)
	return nil
}

func (f *fakeChannel) Kick(_ context.Context, _ live.RoomID, user live.UserID, ev live.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errDown
	}
	if ev.Type != live.EvBanned {
		return errors.New("kick without banned event")
	}
	f.kicks = append(f.kicks, user)
	return nil
}

func (f *fakeChannel) ChatMessage(_ context.Context, _ live.RoomID, seq uint64) (live.ChatData, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[seq]
	if !ok {
		return m, live.NotFound("message")
	}
	return m, nil
}

func (f *fakeChannel) DeleteMessage(_ context.Context, _ live.RoomID, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.messages, seq)
	f.deleted = append(f.deleted, seq)
	return nil
}

type env struct {
	db                *store.DB
	ch                *fakeChannel
	svc               *moderation.Service
	room              live.RoomID
	host, mod, seeker live.Identity
}

func newEnv(t *testing.T) env {
	t.Helper()
	db := storetest.SQLite(t)
	c := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	user := func(name string) live.Identity {
		u := live.User{ID: live.NewID[live.UserID](), Email: name + "@m.test", Name: name, CreatedAt: now}
		if err := db.CreateUser(c, u, "x"); err != nil {
			t.Fatal(err)
		}
		return live.Identity{UserID: u.ID, Name: name}
	}
	e := env{db: db, ch: &fakeChannel{messages: map[uint64]live.ChatData{}}, host: user("host"), mod: user("mod"), seeker: user("seeker")}
	org := live.Org{ID: live.NewID[live.OrgID](), Name: "Bureau", CreatedAt: now}
	if err := db.CreateOrg(c, org, e.host.UserID); err != nil {
		t.Fatal(err)
	}
	r := live.Room{ID: live.NewID[live.RoomID](), OrgID: org.ID, Title: "Fair", Status: live.RoomLive, StartsAt: now, Settings: live.DefaultSettings(), CreatedAt: now}
	if err := db.CreateRoom(c, r, e.host.UserID); err != nil {
		t.Fatal(err)
	}
	if err := db.AddStaff(c, r.ID, e.mod.UserID, store.StaffModerator, e.host.UserID); err != nil {
		t.Fatal(err)
	}
	e.room = r.ID
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = moderation.New(db, rooms.New(db, nil, log), e.ch, moderation.Config{}, log)
	return e
}

func audits(t *testing.T, e env) []store.AuditEntry {
	t.Helper()
	es, err := e.db.RoomAudit(context.Background(), e.room, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// Each action announces what the other nodes and the user need.
func TestAnnouncements(t *testing.T) {
	e := newEnv(t)
	c := context.Background()
	m, err := e.svc.Mute(c, e.mod, e.room, e.seeker.UserID, time.Minute, " too loud ")
	if err != nil {
		t.Fatal(err)
	}
	var md live.MutedData
	if len(e.ch.toUser) != 1 || e.ch.toUser[0].Type != live.EvMuted || json.Unmarshal(e.ch.toUser[0].Data, &md) != nil ||
		!md.Until.Equal(m.Until) || md.Reason != "too loud" || time.Until(md.Until) < 50*time.Second {
		t.Fatalf("muted event %+v / %+v", e.ch.toUser, md)
	}
	if err := e.svc.Unmute(c, e.mod, e.room, e.seeker.UserID, ""); err != nil {
		t.Fatal(err)
	}
	if len(e.ch.toUser) != 2 || json.Unmarshal(e.ch.toUser[1].Data, &md) != nil || md.Until.After(time.Now()) {
		t.Fatalf("unmute event %+v", e.ch.toUser)
	}
	if _, err := e.svc.Ban(c, e.host, e.room, e.seeker.UserID, "scam"); err != nil {
		t.Fatal(err)
	}
	if len(e.ch.kicks) != 1 || e.ch.kicks[0] != e.seeker.UserID {
		t.Fatalf("kicks %+v", e.ch.kicks)
	}
	slow := 10
	set, err := e.svc.UpdateSettings(c, e.mod, e.room, moderation.SettingsPatch{SlowModeSeconds: &slow, BlockedWords: &[]string{" x ", "X"}})
	if err != nil || set.SlowModeSeconds != 10 || len(set.BlockedWords) != 1 || !set.HoldScams {
		t.Fatalf("settings %+v %v", set, err)
	}
	if len(e.ch.published) != 1 || e.ch.published[0].Type != live.EvSettings {
		t.Fatalf("published %+v", e.ch.published)
	}
	// Held: the queue keeps the message without the sender's nonce;
	// approving broadcasts it, rejecting does not; staff hear both.
	for _, id := range []string{"0190a0b0-0000-7000-8000-000000000001", "0190a0b0-0000-7000-8000-000000000002"} {
		if err := e.svc.Hold(c, e.room, live.ChatData{ID: id, UserID: e.seeker.UserID, Text: "押金 " + id, Nonce: "n"}, "scam"); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := e.svc.Held(c, e.mod, e.room, 10)
	if err != nil || len(hs) != 2 || hs[0].Message.Nonce != "" {
		t.Fatalf("held %+v %v", hs, err)
	}
	if _, err := e.svc.DecideHeld(c, e.mod, e.room, hs[0].ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DecideHeld(c, e.mod, e.room, hs[1].ID, false, ""); err != nil {
		t.Fatal(err)
	}
	var chat live.ChatData
	if len(e.ch.published) != 2 || e.ch.published[1].Type != live.EvChat || json.Unmarshal(e.ch.published[1].Data, &chat) != nil || chat.ID != hs[0].ID {
		t.Fatalf("approval broadcast %+v", e.ch.published)
	}
	if len(e.ch.toStaff) != 2 || e.ch.toStaff[0].Type != moderation.EvHeldDecided {
		t.Fatalf("staff events %+v", e.ch.toStaff)
	}
	if n := len(audits(t, e)); n != 6 {
		t.Fatalf("%d audit rows, want 6", n)
	}
}

// The database is the truth: when the broker is down the action still
// stands (and is audited); an approval says it could not be broadcast.
func TestActionsStandWhenChannelIsDown(t *testing.T) {
	e := newEnv(t)
	c := context.Background()
	e.ch.fail = true
	if _, err := e.svc.Ban(c, e.mod, e.room, e.seeker.UserID, "x"); err != nil {
		t.Fatal(err)
	}
	_, acc, err := rooms.New(e.db, nil, nil).Access(c, e.room, e.seeker)
	if err != nil || !acc.Banned {
		t.Fatalf("not banned: %+v %v", acc, err)
	}
	off := live.ChatOff
	if _, err := e.svc.UpdateSettings(c, e.mod, e.room, moderation.SettingsPatch{Chat: &off}); err != nil {
		t.Fatal(err)
	}
	id := "0190a0b0-0000-7000-8000-000000000003"
	if err := e.svc.Hold(c, e.room, live.ChatData{ID: id, UserID: e.seeker.UserID}, "scam"); err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.DecideHeld(c, e.mod, e.room, id, true, "")
	le, ok := live.AsError(err)
	if !ok || le.Code != "broadcast_failed" || h.Status != store.HeldApproved {
		t.Fatalf("approve while down: %+v %v", h, err)
	}
	if n := len(audits(t, e)); n != 3 {
		t.Fatalf("%d audit rows, want 3", n)
	}
}

func TestDeleteMessage(t *testing.T) {
	e := newEnv(t)
	c := context.Background()
	e.ch.messages[7] = live.ChatData{ID: "m7", UserID: e.seeker.UserID, Text: "hi"}
	e.ch.messages[8] = live.ChatData{ID: "m8", UserID: e.host.UserID, Text: "host speaking"}
	if err := e.svc.DeleteMessage(c, e.mod, e.room, 9, ""); err == nil {
		t.Fatal("deleted a message that is not there")
	}
	err := e.svc.DeleteMessage(c, e.mod, e.room, 8, "")
	if le, ok := live.AsError(err); !ok || le.Code != "cannot_moderate" {
		t.Fatalf("moderator deleting the host's message: %v", err)
	}
	if err := e.svc.DeleteMessage(c, e.seeker, e.room, 7, ""); err == nil {
		t.Fatal("a seeker deleted a message")
	}
	if len(audits(t, e)) != 0 || len(e.ch.deleted) != 0 {
		t.Fatal("refusals changed something")
	}
	if err := e.svc.DeleteMessage(c, e.mod, e.room, 7, "rude"); err != nil {
		t.Fatal(err)
	}
	es := audits(t, e)
	if len(e.ch.deleted) != 1 || len(es) != 1 || es[0].Action != moderation.ActionMessageDeleted || es[0].TargetID != string(e.seeker.UserID) || es[0].Reason != "rude" {
		t.Fatalf("deleted %v audit %+v", e.ch.deleted, es)
	}
	// The host may delete their own message.
	if err := e.svc.DeleteMessage(c, e.host, e.room, 8, ""); err != nil {
		t.Fatal(err)
	}
}

// A banned moderator loses their powers; an ended room refuses changes.
func TestBannedModeratorAndEndedRoom(t *testing.T) {
	e := newEnv(t)
	c := context.Background()
	if _, err := e.svc.Ban(c, e.host, e.room, e.mod.UserID, "abuse of power"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Mute(c, e.mod, e.room, e.seeker.UserID, time.Minute, ""); err == nil {
		t.Fatal("a banned moderator muted someone")
	}
	if _, _, err := e.db.SetRoomStatus(c, e.room, live.RoomEnded, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Mute(c, e.host, e.room, e.seeker.UserID, time.Minute, "")
	if le, ok := live.AsError(err); !ok || le.Code != "room_ended" {
		t.Fatalf("mute in an ended room: %v", err)
	}
}
