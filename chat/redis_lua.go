package chat

import "github.com/redis/go-redis/v9"

// Redis keys of one room share the hash tag {room} so that a cluster keeps
// them on one slot: <prefix>{room}:h (history stream, entry id seq-0,
// fields t=type d=envelope), :m (hash e=epoch s=top seq), :d (hash
// seq→tombstone of deleted chat messages), :p (hash node→"count:ms" presence).

// publishScript assigns the next seq, appends the envelope to history
// (approximately trimmed to at least ARGV[3] entries), refreshes expiries and
// publishes "p<seq>:<epoch>:<type>:<envelope>" on the room channel — all in
// one atomic step. A missing meta key means the stream's history is gone
// (Redis restarted or flushed, or the room idle past MetaTTL): a new epoch
// starts and any leftover history is dropped.
var publishScript = redis.NewScript(`
local stream, meta, del = KEYS[1], KEYS[2], KEYS[3]
local typ, tail, maxlen, ttl, metattl, channel, newepoch = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local epoch = redis.call('hget', meta, 'e')
if not epoch then
  epoch = newepoch
  redis.call('del', stream, del)
  redis.call('hset', meta, 'e', epoch, 's', 0)
end
local seq = redis.call('hincrby', meta, 's', 1)
redis.call('pexpire', meta, metattl)
local env = '{"type":"' .. typ .. '","seq":' .. seq .. ',' .. tail
redis.call('xadd', stream, 'MAXLEN', '~', maxlen, seq .. '-0', 't', typ, 'd', env)
redis.call('pexpire', stream, ttl)
redis.call('pexpire', del, ttl)
redis.call('publish', channel, 'p' .. seq .. ':' .. epoch .. ':' .. typ .. ':' .. env)
return {seq, epoch}
`)

// positionScript returns {top, epoch}, starting an epoch if there is none.
var positionScript = redis.NewScript(`
local stream, meta, del = KEYS[1], KEYS[2], KEYS[3]
local newepoch, metattl = ARGV[1], ARGV[2]
local epoch = redis.call('hget', meta, 'e')
if not epoch then
  epoch = newepoch
  redis.call('del', stream, del)
  redis.call('hset', meta, 'e', epoch, 's', 0)
  redis.call('pexpire', meta, metattl)
end
return {tonumber(redis.call('hget', meta, 's') or '0'), epoch}
`)

// historyScript returns {top, epoch, ok, type1, env1, type2, env2, ...}
// with every entry after ARGV[1] when ARGV[2] is the current epoch and the
// stream still holds every one of them (ok=1), else ok=0 and no entries.
// Deleted chat messages come back as their tombstones.
var historyScript = redis.NewScript(`
local stream, meta, del = KEYS[1], KEYS[2], KEYS[3]
local since, want, newepoch, metattl, maxcount = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local epoch = redis.call('hget', meta, 'e')
if not epoch then
  epoch = newepoch
  redis.call('del', stream, del)
  redis.call('hset', meta, 'e', epoch, 's', 0)
  redis.call('pexpire', meta, metattl)
end
local top = tonumber(redis.call('hget', meta, 's') or '0')
if epoch ~= want or since > top or top - since > maxcount then
  return {top, epoch, 0}
end
local res = {top, epoch, 1}
if since == top then
  return res
end
local entries = redis.call('xrange', stream, (since + 1) .. '-0', top .. '-0')
if #entries ~= top - since then
  return {top, epoch, 0}
end
for _, e in ipairs(entries) do
  local f = e[2]
  local tomb = redis.call('hget', del, string.sub(e[1], 1, -3))
  if tomb then
    res[#res + 1] = 'chat.deleted'
    res[#res + 1] = tomb
  else
    res[#res + 1] = f[2]
    res[#res + 1] = f[4]
  end
end
return res
`)

// removeScript stores ARGV[2] as the tombstone of the chat message at seq
// ARGV[1]; 1 if that entry is a chat message in history, else 0.
var removeScript = redis.NewScript(`
local stream, del = KEYS[1], KEYS[2]
local id = ARGV[1] .. '-0'
local e = redis.call('xrange', stream, id, id)
if #e == 0 or e[1][2][2] ~= 'chat' then
  return 0
end
redis.call('hsetnx', del, ARGV[1], ARGV[2])
local ttl = redis.call('pttl', stream)
if ttl > 0 then
  redis.call('pexpire', del, ttl)
end
return 1
`)

// presenceScript records node ARGV[1]'s local count ARGV[2] (0 removes it)
// stamped with Redis' clock, drops records older than ARGV[3] ms and
// returns the sum of the fresh ones.
var presenceScript = redis.NewScript(`
local key = KEYS[1]
local node, n, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if n > 0 then
  redis.call('hset', key, node, n .. ':' .. now)
else
  redis.call('hdel', key, node)
end
local all = redis.call('hgetall', key)
local total = 0
for i = 1, #all, 2 do
  local v = all[i + 1]
  local c = string.find(v, ':', 1, true)
  local cnt, at = tonumber(string.sub(v, 1, c - 1)), tonumber(string.sub(v, c + 1))
  if now - at > ttl then
    redis.call('hdel', key, all[i])
  else
    total = total + cnt
  end
end
if total > 0 then
  redis.call('pexpire', key, ttl * 2)
end
return total
`)

// throttleScript is a GCRA token bucket on Redis' clock: KEYS[1] holds the
// theoretical arrival time in ms; ARGV[1] ms per token, ARGV[2] burst.
// It returns 0 (token taken) or the ms until one is available.
var throttleScript = redis.NewScript(`
local every, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('get', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local newtat = tat + every
local allowat = newtat - every * burst
if allowat > now then
  return allowat - now
end
redis.call('set', KEYS[1], newtat, 'PX', newtat - now)
return 0
`)
