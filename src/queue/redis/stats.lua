-- stats.lua: no ARGV. Returns {delayed, leased, dead, oldest age (ms, -1
-- when no job is pending), then ready per level for levels 0..63}.
-- Read-only: a due delayed job or an expired lease is counted where it
-- sits until the next reserve moves it.
local now = now_ms()
local out = {
  redis.call('ZCARD', K_DELAYED),
  redis.call('ZCARD', K_LEASED),
  redis.call('ZCARD', K_DEAD),
  -1,
}
local oldest = redis.call('ZRANGE', K_AGE, 0, 0, 'WITHSCORES')
if oldest[2] then
  out[4] = math.max(0, now - tonumber(oldest[2]))
end
for level = 0, 63 do
  local lo = level * LEVEL_SPAN
  table.insert(out, redis.call('ZCOUNT', K_READY, int(lo), '(' .. int(lo + LEVEL_SPAN)))
end
return out
