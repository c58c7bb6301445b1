-- ack.lua: ARGV id, token. Completes the job if `token` still holds its
-- lease: {1} done, else the lease check's code.
local id = ARGV[1]
local c = check_lease(id, ARGV[2])
if c ~= 1 then
  return {c}
end
redis.call('ZREM', K_LEASED, id)
redis.call('ZREM', K_AGE, id)
redis.call('DEL', job_key(id))
return {1}
