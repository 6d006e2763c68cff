package signaling

import (
	"context"
	"sync"
	"time"

	"jobcast/live"
)

// Registry maps a room to the URL of the media node hosting its publisher,
// so that requests reaching any node can be sent to the right one. Entries
// expire unless the hosting node keeps refreshing them, so a crashed node's
// rooms free up by themselves. Entries hold node URLs only, never personal
// data. Implementations are safe for concurrent use; every method may block
// on the network and honours ctx.
type Registry interface {
	// Claim makes node the host of room for ttl if nobody else holds it (or
	// extends node's own claim) and returns the holder after the call: node
	// itself on success, another node's URL when that node holds the room.
	Claim(ctx context.Context, room live.RoomID, node string, ttl time.Duration) (holder string, err error)
	// Lookup returns the node hosting room, or "" when none does.
	Lookup(ctx context.Context, room live.RoomID) (node string, err error)
	// Release drops node's claim on room; another node's claim is left alone.
	Release(ctx context.Context, room live.RoomID, node string) error
}

// MemoryRegistry is the single-process Registry (tests, embedded mode). The
// zero value is not usable; call NewMemoryRegistry. Safe for concurrent use;
// never blocks.
type MemoryRegistry struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[live.RoomID]memEntry
}

type memEntry struct {
	node    string
	expires time.Time
}

// NewMemoryRegistry returns an empty in-process registry.
func NewMemoryRegistry() *MemoryRegistry {
	return &MemoryRegistry{now: time.Now, entries: map[live.RoomID]memEntry{}}
}

// Claim implements Registry.
func (m *MemoryRegistry) Claim(_ context.Context, room live.RoomID, node string, ttl time.Duration) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if e, ok := m.entries[room]; ok && e.node != node && now.Before(e.expires) {
		return e.node, nil
	}
	m.entries[room] = memEntry{node: node, expires: now.Add(ttl)}
	return node, nil
}

// Lookup implements Registry.
func (m *MemoryRegistry) Lookup(_ context.Context, room live.RoomID) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[room]
	if !ok || !m.now().Before(e.expires) {
		delete(m.entries, room)
		return "", nil
	}
	return e.node, nil
}

// Release implements Registry.
func (m *MemoryRegistry) Release(_ context.Context, room live.RoomID, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[room]; ok && e.node == node {
		delete(m.entries, room)
	}
	return nil
}
