-- IncrAtLeast: the counter becomes the larger of its value plus one and a
-- floor (the caller's hybrid clock), in one step, so versions taken from it
-- stay above every version any process handed out, and never fall behind
-- the clock (see hoard.HybridVersioner).
--
-- KEYS[1]  the counter
-- ARGV[1]  the floor, a decimal integer above 0 without leading zeros
-- ARGV[2]  the counter's TTL in ms, renewed by every call; 0: none
-- Returns the new value as a string. The comparison is done on the decimal
-- strings: Lua numbers are doubles, which would round a 16-digit counter,
-- while INCRBY works on Redis's own 64-bit integers.
local floor = ARGV[1]

-- below(a, b): whether the decimal integer a is less than the positive
-- decimal integer b, both without leading zeros.
local function below(a, b)
  if string.sub(a, 1, 1) == '-' then
    return true
  end
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end

local function renew()
  if tonumber(ARGV[2]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
end

if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCRBY', KEYS[1], 1)
  local n = redis.call('GET', KEYS[1])
  if not below(n, floor) then
    renew()
    return n
  end
end
redis.call('SET', KEYS[1], floor)
renew()
return floor
