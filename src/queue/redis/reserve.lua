-- reserve.lua: ARGV lease (ms). The reply of `reserve_one` (common.lua).
return reserve_one(now_ms(), tonumber(ARGV[1]))
