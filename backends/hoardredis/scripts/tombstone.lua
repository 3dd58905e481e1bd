-- Replace a hoard entry with a tombstone, and say whether it was live:
-- DeletePrefix counts only those, not earlier tombstones. Anything else
-- under the prefix is left alone: a stream, a hash, a lock, a counter of
-- IncrBy (a decimal string), a string hoard did not write. An entry is a
-- string that starts like an envelope (see envelope.go): at least the
-- 42-byte header, byte 1 the format (1), byte 2 only known flags (below
-- 8; flag 2 marks a tombstone).
--
-- KEYS[1]  the key
-- ARGV[1]  the tombstone envelope
-- ARGV[2]  its TTL in milliseconds
-- Returns 1 when a live entry was replaced, 0 when a tombstone was, -1 when
-- the key holds no entry (or nothing) and was left alone.
if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then
  return -1
end
local cur = redis.call('GET', KEYS[1])
if string.len(cur) < 42 or string.byte(cur, 1) ~= 1 or string.byte(cur, 2) >= 8 then
  return -1
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if math.floor(string.byte(cur, 2) / 2) % 2 == 1 then
  return 0
end
return 1
