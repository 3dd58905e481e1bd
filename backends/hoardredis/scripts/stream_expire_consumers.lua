-- Expire consumers: delete the group's consumers, other than the caller,
-- that have been idle for longer than the limit and have nothing pending.
-- One script, so no consumer takes an entry between the check and the
-- delete (XGROUP DELCONSUMER drops a consumer's pending entries). Needs
-- stream_lib.lua prepended.
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group
-- ARGV[2]  the caller's consumer name, never deleted
-- ARGV[3]  the idle limit in milliseconds
-- Returns the number of consumers deleted.
local n = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending, idle = field(c, 'name'), field(c, 'pending'), field(c, 'idle')
  if name ~= ARGV[2] and pending == 0 and idle and idle > tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    n = n + 1
  end
end
return n
