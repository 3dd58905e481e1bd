-- IncrBy with a start from the clock: a counter that does not exist begins
-- at the caller's time in microseconds, so a counter lost with a restart
-- comes back larger than it ever was and never repeats an old version.
--
-- KEYS[1]  the counter
-- ARGV[1]  the delta
-- ARGV[2]  the start value for a new counter
-- ARGV[3]  the counter's TTL in ms, renewed by every call; 0: none
-- Returns the new value as a string: Lua numbers are doubles, which would
-- round a 16-digit counter.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('GET', KEYS[1])
