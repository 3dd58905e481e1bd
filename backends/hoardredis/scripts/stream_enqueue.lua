-- Enqueue: append one entry to the stream unless the queue is full, and
-- count it in the depth key. A depth left over from a stream that no longer
-- exists is reset first.
--
-- KEYS[1]  the stream
-- KEYS[2]  the depth counter
-- ARGV[1]  the maximum depth
-- ARGV[2]  the write's ID, stored as field 'i'
-- ARGV[3]  its version, decimal ('v')
-- ARGV[4]  its delete flag ('d')
-- ARGV[5]  the enqueue time, Unix nanoseconds ('t')
-- ARGV[6]  the payload ('p')
-- Returns the new entry's stream ID, or nil (false) when the queue is full.
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
local depth = tonumber(redis.call('GET', KEYS[2]) or '0')
if depth >= tonumber(ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[1], '*', 'i', ARGV[2], 'v', ARGV[3], 'd', ARGV[4], 't', ARGV[5], 'p', ARGV[6])
redis.call('INCR', KEYS[2])
return id
