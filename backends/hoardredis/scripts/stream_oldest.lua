-- Oldest: report the depth and where the group's unacknowledged backlog
-- starts. Needs stream_lib.lua prepended.
--
-- KEYS[1]  the stream
-- KEYS[2]  the depth counter
-- ARGV[1]  the consumer group
-- Returns {depth, first, oldest}: first is the lowest ID the group may still
-- need, or false when the stream does not exist; oldest is the ID of its
-- oldest entry not acknowledged, or false when there is none.
local depth = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = first_unacked(KEYS[1], ARGV[1])
if not first then return {depth, false, false} end
local e = redis.call('XRANGE', KEYS[1], first, '+', 'COUNT', 1)
if #e == 0 then return {depth, first, false} end
return {depth, first, e[1][1]}
