-- Read the tag clock: its epoch, and the stamps of some tags. A clock that
-- does not exist yet (never used, or lost with a Redis restarted empty)
-- starts at the caller's time in µs, and its start is kept beside it: a tag
-- with no stamp reads as stamped at the start, so an entry loaded before a
-- restart (its epoch below the start) is never taken as valid because the
-- stamp that invalidated it was lost. A clock made before start keys
-- existed has none: its unstamped tags read 0, as they always did.
--
-- KEYS[1]     the epoch counter
-- KEYS[2]     the clock's start
-- KEYS[3..n]  the tags' stamp keys
-- ARGV[1]     the start value of a clock that does not exist yet (µs)
-- Returns {epoch, stamp of KEYS[3], ...} as strings (Lua numbers would
-- round them).
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[1])
end
local start = redis.call('GET', KEYS[2]) or '0'
local out = {redis.call('GET', KEYS[1])}
for i = 3, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[i]) or start
end
return out
