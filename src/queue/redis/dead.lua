-- dead.lua: ARGV offset, count. The dead set, oldest burial first: a
-- flat array of {id, buried at, level, attempts, max, enqueued at, reason,
-- payload} per job.
local out = {}
local page = redis.call('ZRANGE', K_DEAD, ARGV[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1, 'WITHSCORES')
for i = 1, #page, 2 do
  local id = page[i]
  local f = redis.call('HMGET', job_key(id), 'l', 'a', 'm', 'e', 'r', 'p')
  if f[1] then
    table.insert(out, tonumber(id))
    table.insert(out, tonumber(page[i + 1]))
    table.insert(out, tonumber(f[1]))
    table.insert(out, tonumber(f[2]))
    table.insert(out, tonumber(f[3]))
    table.insert(out, tonumber(f[4]))
    table.insert(out, f[5] or '')
    table.insert(out, f[6])
  end
end
return out
