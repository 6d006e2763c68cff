package signaling

import (
	"context"
	"sync"

	"jobcast/live"
)

// fakeRooms is a test double of live.Rooms: rooms in memory, hosts by user
// id, one stream key per room.
type fakeRooms struct {
	mu       sync.Mutex
	rooms    map[live.RoomID]*live.Room
	keys     map[live.RoomID]string
	hosts    map[live.RoomID]map[live.UserID]bool
	banned   map[live.RoomID]map[live.UserID]bool
	statuses []live.RoomStatus // every SetStatus, in order
}

func newFakeRooms() *fakeRooms {
	return &fakeRooms{
		rooms: map[live.RoomID]*live.Room{}, keys: map[live.RoomID]string{},
		hosts: map[live.RoomID]map[live.UserID]bool{}, banned: map[live.RoomID]map[live.UserID]bool{},
	}
}

func (f *fakeRooms) add(key string, hosts ...live.UserID) live.RoomID {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := live.NewID[live.RoomID]()
	f.rooms[id] = &live.Room{ID: id, Title: "fair", Status: live.RoomScheduled}
	f.keys[id] = key
	f.hosts[id] = map[live.UserID]bool{}
	f.banned[id] = map[live.UserID]bool{}
	for _, h := range hosts {
		f.hosts[id][h] = true
	}
	return id
}

func (f *fakeRooms) ban(room live.RoomID, u live.UserID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.banned[room][u] = true
}

func (f *fakeRooms) status(room live.RoomID) live.RoomStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rooms[room].Status
}

func (f *fakeRooms) setStatusDirect(room live.RoomID, s live.RoomStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rooms[room].Status = s
}

func (f *fakeRooms) Access(_ context.Context, room live.RoomID, id live.Identity) (live.Room, live.RoomAccess, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[room]
	if !ok {
		return live.Room{}, live.RoomAccess{}, live.NotFound("room")
	}
	acc := live.RoomAccess{Identity: id}
	if id.SignedIn() {
		acc.Host = f.hosts[room][id.UserID]
		acc.Banned = f.banned[room][id.UserID]
	}
	return *r, acc, nil
}

func (f *fakeRooms) CheckStreamKey(_ context.Context, room live.RoomID, key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[room]
	if !ok {
		return false, live.NotFound("room")
	}
	return k != "" && k == key, nil
}

func (f *fakeRooms) SetStatus(_ context.Context, room live.RoomID, to live.RoomStatus) (live.Room, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[room]
	if !ok {
		return live.Room{}, live.NotFound("room")
	}
	if !r.Status.CanBecome(to) {
		return *r, live.InvalidState("bad_transition", "the room cannot become "+string(to))
	}
	r.Status = to
	f.statuses = append(f.statuses, to)
	return *r, nil
}

// fakeSessions maps tokens to identities.
type fakeSessions struct {
	mu     sync.Mutex
	tokens map[string]live.Identity
}

func newFakeSessions() *fakeSessions { return &fakeSessions{tokens: map[string]live.Identity{}} }

func (f *fakeSessions) user(token string) live.UserID {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := live.NewID[live.UserID]()
	f.tokens[token] = live.Identity{UserID: id, Name: "user"}
	return id
}

func (f *fakeSessions) IdentifyToken(_ context.Context, token string) (live.Identity, error) {
	if token == "" {
		return live.Identity{}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.tokens[token]
	if !ok {
		return live.Identity{}, live.Unauthenticated()
	}
	return id, nil
}

func (f *fakeSessions) mustID(t interface{ Fatal(...any) }, token string) live.UserID {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.tokens[token]
	if !ok {
		t.Fatal("no such token")
	}
	return id.UserID
}
