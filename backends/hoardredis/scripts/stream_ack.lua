-- Ack: XACK the given entries, lower the depth by the number acknowledged
-- (never below 0), and trim the stream below the lowest ID any group still
-- needs. Needs stream_lib.lua prepended.
--
-- KEYS[1]     the stream
-- KEYS[2]     the depth counter
-- ARGV[1]     the consumer group
-- ARGV[2..n]  the entry IDs to acknowledge
-- Returns the number of entries acknowledged.
local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
if n > 0 and redis.call('DECRBY', KEYS[2], n) < 0 then
  redis.call('SET', KEYS[2], 0)
end
local first = first_unacked(KEYS[1], '')
if first then redis.call('XTRIM', KEYS[1], 'MINID', first) end
return n
