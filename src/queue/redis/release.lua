-- release.lua: ARGV id, token. Hands the job back unfinished (a worker
-- shutting down): ready again at once, this delivery not counted as an
-- attempt. {1}, else the lease check's code.
local id = ARGV[1]
local c = check_lease(id, ARGV[2])
if c ~= 1 then
  return {c}
end
redis.call('ZREM', K_LEASED, id)
local jk = job_key(id)
redis.call('HINCRBY', jk, 'a', -1)
redis.call('HSET', jk, 't', '')
make_ready(id, tonumber(redis.call('HGET', jk, 'l')))
return {1}
