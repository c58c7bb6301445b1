-- nack.lua: ARGV id, token, retry delay (ms), reason. The handler failed:
-- {1, run at} retry scheduled; {2} attempts used up, job buried in the
-- dead set; else the lease check's code.
local id = ARGV[1]
local c = check_lease(id, ARGV[2])
if c ~= 1 then
  return {c}
end
local now = now_ms()
redis.call('ZREM', K_LEASED, id)
local jk = job_key(id)
local f = redis.call('HMGET', jk, 'a', 'm', 'l')
if tonumber(f[1]) >= tonumber(f[2]) then
  bury(id, now, ARGV[4])
  return {2}
end
redis.call('HSET', jk, 't', '', 'r', ARGV[4])
local at = now + tonumber(ARGV[3])
if at > now then
  redis.call('ZADD', K_DELAYED, int(at), id)
else
  make_ready(id, tonumber(f[3]))
end
return {1, at}
