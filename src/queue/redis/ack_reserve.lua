-- ack_reserve.lua: ARGV id, token, lease (ms). A worker's loop in one
-- round trip: completes the job as ack.lua does, then reserves the next
-- as reserve.lua does. Returns {ack code} followed by reserve's reply;
-- the reserve happens whatever the ack's outcome.
local id = ARGV[1]
local code = check_lease(id, ARGV[2])
if code == 1 then
  redis.call('ZREM', K_LEASED, id)
  redis.call('ZREM', K_AGE, id)
  redis.call('DEL', job_key(id))
end
local out = {code}
for _, v in ipairs(reserve_one(now_ms(), tonumber(ARGV[3]))) do
  table.insert(out, v)
end
return out
