-- extend.lua: ARGV id, token, lease (ms). Renews the lease from now:
-- {1, new deadline}, else the lease check's code.
local id = ARGV[1]
local c = check_lease(id, ARGV[2])
if c ~= 1 then
  return {c}
end
local deadline = now_ms() + tonumber(ARGV[3])
redis.call('ZADD', K_LEASED, int(deadline), id)
return {1, deadline}
