-- Replace whatever a key holds with a tombstone, and say whether it held a
-- live value: DeletePrefix counts only those, not earlier tombstones.
--
-- KEYS[1]  the key
-- ARGV[1]  the tombstone envelope
-- ARGV[2]  its TTL in milliseconds
-- Returns 1 when a value (anything but a tombstone) was replaced, else 0.
local live = 0
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'string' then
  local cur = redis.call('GET', KEYS[1])
  -- byte 1 is the format (1), byte 2 the flags; flag 2 marks a tombstone.
  local tomb = string.len(cur) >= 2 and string.byte(cur, 1) == 1
    and math.floor(string.byte(cur, 2) / 2) % 2 == 1
  if not tomb then
    live = 1
  end
elseif kind ~= 'none' then
  live = 1
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return live
