-- reserve.lua: ARGV lease (ms).
-- Returns {1, id, token, attempt, max, level, enqueued at, deadline,
-- payload} for the most urgent ready job (oldest first within its level),
-- or {0, wake} when none is ready: wake is the ms until the next delayed
-- job is due or lease runs out (-1: none of either).
local now = now_ms()
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
local jk = job_key(id)
local attempt = redis.call('HINCRBY', jk, 'a', 1)
local token = redis.call('INCR', K_SEQ)
local deadline = now + tonumber(ARGV[1])
redis.call('HSET', jk, 't', int(token))
redis.call('ZADD', K_LEASED, int(deadline), id)
local f = redis.call('HMGET', jk, 'p', 'l', 'm', 'e')
return {1, tonumber(id), token, attempt, tonumber(f[3]), tonumber(f[2]), tonumber(f[4]), deadline, f[1]}
