-- Advance the tag epoch and stamp every tag with the new epoch, atomically.
-- All keys share one hash tag, so this runs on Redis Cluster.
--
-- KEYS[1]     the epoch counter
-- KEYS[2]     the clock's start (see tag_epoch.lua)
-- KEYS[3..n]  the tags' stamp keys
-- ARGV[1]     the start value of an epoch that does not exist yet (µs)
-- Returns the new epoch as a string (Lua numbers would round it).
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[1])
end
redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[1])
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], epoch)
end
return epoch
