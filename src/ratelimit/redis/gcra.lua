-- latchwork GCRA, one key per call. Written for latchwork; see script.rs.
-- KEYS[1]  the bucket's key
-- ARGV[1]  op: 'c' check (take ARGV[2] tokens), 'p' peek (would ARGV[2]
--          tokens fit? take none), 'r' refund,
--          'l' lease (take up to ARGV[6] tokens, at least ARGV[2], or none)
-- ARGV[2]  cost, ARGV[3] interval ns per token, ARGV[4] burst tokens
-- ARGV[5]  '' to read Redis TIME; a decimal ns reading only from tests
-- ARGV[6]  for 'l': the most tokens to lease
-- Stored value: '<tat ns since the epoch> <interval> <burst>', PX = time to full.
-- Reply: {allowed 0/1 (for 'l': tokens taken), limit, remaining,
--         retry_after ns or -1, reset_after ns}
local G = 1000000000
local MAXTAU = 4503599627370496 -- 2^52 ns: every sum below stays exact in a double

local function whole(x)
  return x ~= nil and x >= 0 and x <= MAXTAU and x == math.floor(x)
end

-- floor(a / b), exact for integers 0 <= a <= 2^52, b >= 1
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

-- a decimal string of nanoseconds -> seconds, nanoseconds (nil if malformed)
local function split(s)
  if not string.match(s, '^%d+$') or #s > 19 then
    return nil
  end
  local n = #s
  if n <= 9 then
    return 0, tonumber(s)
  end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end

local key, op = KEYS[1], ARGV[1]
-- Canonical decimals only (no sign, fraction, exponent or leading zero):
-- the quota is stored back as these very strings.
local quota = ' ' .. ARGV[3] .. ' ' .. ARGV[4]
local cost, interval, burst = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not string.match(ARGV[2] .. quota, '^%d+ [1-9]%d* [1-9]%d*$')
    or interval * burst > MAXTAU or cost > burst
    or (op ~= 'c' and op ~= 'p' and op ~= 'r' and op ~= 'l') then
  return redis.error_reply('ERR latchwork: invalid limiter arguments')
end
local want = 0
if op == 'l' then
  want = tonumber(ARGV[6])
  if not whole(want) or want < cost or want > burst or want < 1 then
    return redis.error_reply('ERR latchwork: invalid lease size')
  end
end
local tau = interval * burst

-- PX counts real time; a test's injected clock runs on its own, so there the
-- key is kept 10 minutes longer (a passed TAT reads as full either way)
local ns, nn, slack = nil, nil, 0
if ARGV[5] ~= '' then
  slack = 600000
  ns, nn = split(ARGV[5])
  if not ns then
    return redis.error_reply('ERR latchwork: invalid time argument')
  end
else
  local t = redis.call('TIME')
  ns, nn = tonumber(t[1]), tonumber(t[2]) * 1000
end

-- debt = max(0, tat - now), at most tau; converted to this quota if the
-- stored one differs (a full bucket stays full, otherwise the whole tokens
-- left are kept, capped at the new burst)
local debt, converted = 0, false
local raw = redis.call('GET', key)
if raw then
  local t, i, b = string.match(raw, '^(%d+) (%d+) (%d+)$')
  local ts, tn = nil, nil
  if t then
    -- %d+ matched: only the length needs checking
    local n = #t
    if n <= 9 then
      ts, tn = 0, tonumber(t)
    elseif n <= 19 then
      ts, tn = tonumber(string.sub(t, 1, -10)), tonumber(string.sub(t, -9))
    end
  end
  local oi, ob = tonumber(i), tonumber(b)
  if not ts or not whole(oi) or not whole(ob) or oi < 1 or ob < 1 or oi * ob > MAXTAU then
    return redis.error_reply('ERR latchwork: key holds no limiter state')
  end
  local d = (ts - ns) * G + (tn - nn)
  if d > 0 then
    local otau = oi * ob
    if d > otau then
      d = otau
    end
    if oi ~= interval or ob ~= burst then
      local left = idiv(otau - d, oi)
      if left > burst then
        left = burst
      end
      d = tau - left * interval
      converted = true
    end
    debt = d
  end
end

local function store(d)
  if d <= 0 then
    redis.call('DEL', key)
    return
  end
  local s = ns + idiv(d, G)
  local n = nn + (d - idiv(d, G) * G)
  if n >= G then
    s, n = s + 1, n - G
  end
  local v
  if s > 0 then
    v = string.format('%d%09d', s, n) .. quota
  else
    v = n .. quota
  end
  redis.call('SET', key, v, 'PX', idiv(d + 999999, 1000000) + 1 + slack)
end

if op == 'r' then
  local d = debt - cost * interval
  if d < 0 then
    d = 0
  end
  store(d)
  return {1, burst, idiv(tau - d, interval), -1, d}
end
if op == 'l' then
  local avail = idiv(tau - debt, interval)
  local take = want
  if take > avail then
    take = avail
  end
  if take >= cost and take > 0 then
    local d = debt + take * interval
    store(d)
    return {take, burst, idiv(tau - d, interval), -1, d}
  end
  if converted then
    store(debt)
  end
  return {0, burst, avail, debt + cost * interval - tau, debt}
end
local ahead = debt + cost * interval
if ahead <= tau then
  if op == 'c' then
    if cost > 0 then
      store(ahead)
    elseif converted then
      store(debt)
    end
    return {1, burst, idiv(tau - ahead, interval), -1, ahead}
  end
  return {1, burst, idiv(tau - debt, interval), -1, debt}
end
if op == 'c' and converted then
  store(debt)
end
return {0, burst, idiv(tau - debt, interval), ahead - tau, debt}
