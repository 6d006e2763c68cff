package signaling

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"jobcast/live"
)

// RedisRegistry is the Registry shared by every node through Redis: one key
// per room, "<prefix>media:room:<room id>" → node URL, with a TTL the hosting
// node refreshes. Claim and Release are single Lua scripts, so two nodes
// racing for a room never both win and a node never deletes another's claim.
// Safe for concurrent use; every method is one Redis round trip.
type RedisRegistry struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisRegistry returns a registry on rdb with keys under prefix (for
// example "jobcast:"; tests use a unique prefix each).
func NewRedisRegistry(rdb redis.UniversalClient, prefix string) *RedisRegistry {
	return &RedisRegistry{rdb: rdb, prefix: prefix}
}

func (r *RedisRegistry) key(room live.RoomID) string { return r.prefix + "media:room:" + string(room) }

// claimScript: KEYS[1] room key, ARGV[1] node, ARGV[2] ttl ms. Sets the key
// when free, extends it when ours, and returns the holder.
var claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return cur
`)

// releaseScript: delete the key only if it still names ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Claim implements Registry.
func (r *RedisRegistry) Claim(ctx context.Context, room live.RoomID, node string, ttl time.Duration) (string, error) {
	holder, err := claimScript.Run(ctx, r.rdb, []string{r.key(room)}, node, ttl.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("media registry claim: %w", err)
	}
	return holder, nil
}

// Lookup implements Registry.
func (r *RedisRegistry) Lookup(ctx context.Context, room live.RoomID) (string, error) {
	node, err := r.rdb.Get(ctx, r.key(room)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("media registry lookup: %w", err)
	}
	return node, nil
}

// Release implements Registry.
func (r *RedisRegistry) Release(ctx context.Context, room live.RoomID, node string) error {
	if err := releaseScript.Run(ctx, r.rdb, []string{r.key(room)}, node).Err(); err != nil {
		return fmt.Errorf("media registry release: %w", err)
	}
	return nil
}
