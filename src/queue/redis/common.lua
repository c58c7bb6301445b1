-- common.lua: the keys, the clock and the state moves every queue script
-- shares; each script is this prelude followed by its own body.
--
-- KEYS[1] is the queue's base key `prefix{name}`; every other key is built
-- from it and so carries the same hash tag (one cluster slot per queue).
--
--   base:seq      counter: job ids, ready sequence numbers, lease tokens
--   base:job:<id> hash: p payload, l level, a attempts (deliveries so far),
--                 m max attempts, e enqueued at (ms), k idempotency key,
--                 t current lease token ('' when not leased), r last error
--   base:ready    zset: id -> level * 2^47 + seq (strict priority, FIFO)
--   base:delayed  zset: id -> run at (ms)
--   base:leased   zset: id -> lease deadline (ms)
--   base:dead     zset: id -> buried at (ms)
--   base:age      zset: id -> enqueued at (ms), every job not yet done/dead
--   base:idem:<k> string: id, expires with the idempotency window
local base = KEYS[1]
local K_SEQ = base .. ':seq'
local K_READY = base .. ':ready'
local K_DELAYED = base .. ':delayed'
local K_LEASED = base .. ':leased'
local K_DEAD = base .. ':dead'
local K_AGE = base .. ':age'
local LEVEL_SPAN = 140737488355328 -- 2^47: seq stays exact in a double

-- Lua turns numbers into strings with 14 significant digits: every score,
-- time and token sent back to Redis goes through `int` instead.
local function int(n)
  return string.format('%d', n)
end

local function job_key(id)
  return base .. ':job:' .. id
end

-- Redis TIME in milliseconds: the one clock every worker shares.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function make_ready(id, level)
  local seq = redis.call('INCR', K_SEQ)
  redis.call('ZADD', K_READY, int(level * LEVEL_SPAN + seq), id)
end

local function bury(id, now, reason)
  redis.call('ZADD', K_DEAD, int(now), id)
  redis.call('ZREM', K_AGE, id)
  redis.call('HSET', job_key(id), 't', '', 'r', reason)
end

-- Expired leases go back to ready (or to the dead set after the last
-- attempt); due delayed jobs become ready. At most `limit` of each per
-- call, so one call's work stays bounded.
local function maintain(now, limit)
  local expired = redis.call('ZRANGEBYSCORE', K_LEASED, '-inf', int(now), 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    redis.call('ZREM', K_LEASED, id)
    local f = redis.call('HMGET', job_key(id), 'l', 'a', 'm')
    if f[1] then
      if tonumber(f[2]) >= tonumber(f[3]) then
        bury(id, now, 'lease expired on the last attempt')
      else
        redis.call('HSET', job_key(id), 't', '')
        make_ready(id, tonumber(f[1]))
      end
    end
  end
  local due = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', int(now), 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    redis.call('ZREM', K_DELAYED, id)
    local level = redis.call('HGET', job_key(id), 'l')
    if level then
      make_ready(id, tonumber(level))
    end
  end
end

-- The lease check of ack, extend, nack and release: 1 when `token` holds
-- the job's lease; 0 no such job; -1 the lease passed on (expired and
-- requeued or handed to another worker); -2 the job is in the dead set.
local function check_lease(id, token)
  local t = redis.call('HGET', job_key(id), 't')
  if not t then
    return 0
  end
  if t ~= token then
    if redis.call('ZSCORE', K_DEAD, id) then
      return -2
    end
    return -1
  end
  return 1
end

-- The reserve step of reserve.lua and ack_reserve.lua: the most urgent
-- ready job (oldest first within its level) leased until now + lease_ms,
-- as {1, id, token, attempt, max, level, enqueued at, deadline, payload};
-- or {0, wake}, wake the ms until the next delayed job is due or lease
-- runs out (-1: none of either).
local function reserve_one(now, lease_ms)
  maintain(now, 100)
  local popped = redis.call('ZPOPMIN', K_READY)
  if #popped == 0 then
    local wake = -1
    local d = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
    if d[2] then
      wake = math.max(0, tonumber(d[2]) - now)
    end
    local l = redis.call('ZRANGE', K_LEASED, 0, 0, 'WITHSCORES')
    if l[2] then
      local w = math.max(0, tonumber(l[2]) - now)
      if wake < 0 or w < wake then
        wake = w
      end
    end
    return {0, wake}
  end
  local id = popped[1]
  -- The token is the job's ready score: every time a job becomes ready it
  -- gets a fresh sequence number, so each delivery has its own.
  local token = popped[2]
  local jk = job_key(id)
  local f = redis.call('HMGET', jk, 'p', 'l', 'm', 'e', 'a')
  local attempt = tonumber(f[5]) + 1
  local deadline = now + lease_ms
  redis.call('HSET', jk, 'a', int(attempt), 't', token)
  redis.call('ZADD', K_LEASED, int(deadline), id)
  return {1, tonumber(id), tonumber(token), attempt, tonumber(f[3]), tonumber(f[2]), tonumber(f[4]), deadline, f[1]}
end
