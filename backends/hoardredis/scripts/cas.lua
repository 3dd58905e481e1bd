-- Compare-and-set: store the envelope only if the key's generation is still
-- the one the caller read. The generation sits at bytes 3..10 of every
-- envelope (see envelope.go), so no decoding is needed: equal bytes, equal
-- generation.
--
-- KEYS[1]  the key
-- ARGV[1]  the expected generation, 8 bytes; empty when the key was absent
-- ARGV[2]  the new envelope
-- ARGV[3]  its TTL in milliseconds; "0" for none
-- Returns 1 when stored, 0 when the key moved on.
local cur = redis.call('GET', KEYS[1])
local gen = ''
if cur then
  gen = string.sub(cur, 3, 10)
end
if gen ~= ARGV[1] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
