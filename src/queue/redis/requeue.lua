-- requeue.lua: ARGV id. Moves a dead job back to ready with its attempts
-- reset: {1}, or {0} if it is not in the dead set.
local id = ARGV[1]
if redis.call('ZREM', K_DEAD, id) == 0 then
  return {0}
end
local jk = job_key(id)
redis.call('HSET', jk, 'a', 0, 't', '')
redis.call('ZADD', K_AGE, int(now_ms()), id)
make_ready(id, tonumber(redis.call('HGET', jk, 'l')))
return {1}
