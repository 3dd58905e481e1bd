-- Read the tag clock: its epoch, and the stamps of some tags. A clock that
-- does not exist yet (never used, or lost with a Redis restarted empty)
-- starts at the caller's time in µs, and its start is kept beside it: a tag
-- with no stamp reads as stamped at the start, so an entry loaded before a
-- restart (its epoch below the start) is never taken as valid because the
-- stamp that invalidated it was lost. A clock made before start keys
-- existed has none: its unstamped tags read 0, as they always did. A tag
-- whose stamp aged out reads as the clock's floor when that is later
-- (see tag_lib.lua, prepended to this script).
--
-- KEYS[1]     the epoch counter
-- KEYS[2]     the clock's start
-- KEYS[3]     the clock's floor
-- KEYS[4]     the clock's aging set
-- KEYS[5..n]  the tags' stamp keys
-- ARGV[1]     the start value of a clock that does not exist yet (µs)
-- Returns {epoch, stamp of KEYS[5], ...} as strings (Lua numbers would
-- round them).
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[1])
end
local out = {redis.call('GET', KEYS[1])}
if #KEYS < 5 then return out end
local missing = later(redis.call('GET', KEYS[2]) or '0', fold(KEYS[3], KEYS[4], now_ms()))
for i = 5, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[i]) or missing
end
return out
