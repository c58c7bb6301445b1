-- enqueue.lua: ARGV payload, level, max attempts, run at (ms; 0 = now),
-- delay (ms; applied when run at is 0), idempotency key ('' = none),
-- idempotency window (ms).
-- Returns {1, id} for a new job, {0, id} for a duplicate of a job enqueued
-- under the same key inside the window.
local now = now_ms()
local ikey = ARGV[6]
local ik = nil
if ikey ~= '' then
  ik = base .. ':idem:' .. ikey
  local existing = redis.call('GET', ik)
  if existing then
    return {0, tonumber(existing)}
  end
end
local id = redis.call('INCR', K_SEQ)
local level = tonumber(ARGV[2])
redis.call('HSET', job_key(id), 'p', ARGV[1], 'l', level, 'a', 0, 'm', ARGV[3],
  'e', int(now), 'k', ikey, 't', '')
redis.call('ZADD', K_AGE, int(now), id)
if ik then
  redis.call('SET', ik, id, 'PX', ARGV[7])
end
local at = tonumber(ARGV[4])
if at == 0 then
  at = now + tonumber(ARGV[5])
end
if at > now then
  redis.call('ZADD', K_DELAYED, int(at), id)
else
  -- A new job's id comes from the same counter as the ready sequence, so
  -- it serves as its sequence number (one INCR fewer).
  redis.call('ZADD', K_READY, int(level * LEVEL_SPAN + id), id)
end
return {1, id}
