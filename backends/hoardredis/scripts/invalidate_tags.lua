-- Advance the tag epoch and stamp every tag with the new epoch, atomically.
-- All keys share one hash tag, so this runs on Redis Cluster. Needs
-- tag_lib.lua prepended (it explains the floor and the aging set).
--
-- KEYS[1]     the epoch counter
-- KEYS[2]     the clock's start (see tag_epoch.lua)
-- KEYS[3]     the clock's floor
-- KEYS[4]     the clock's aging set
-- KEYS[5..n]  the tags' stamp keys
-- ARGV[1]     the start value of an epoch that does not exist yet (µs)
-- ARGV[2]     the stamps' TTL in ms; "0": they never expire
-- Returns the new epoch as a string (Lua numbers would round it).
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[1])
end
redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[1])
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  for i = 5, #KEYS do
    redis.call('SET', KEYS[i], epoch)
  end
  return epoch
end
for i = 5, #KEYS do
  redis.call('SET', KEYS[i], epoch, 'PX', ttl)
end
local now = now_ms()
fold(KEYS[3], KEYS[4], now)
-- The bucket of the time these stamps expire, rounded down: the floor
-- takes this epoch in no later than they expire. The new epoch is the
-- largest yet, so it replaces whatever the bucket held.
local width = math.max(1, math.floor(ttl / 16))
local bucket = now + ttl
bucket = bucket - bucket % width
redis.call('ZREMRANGEBYSCORE', KEYS[4], bucket, bucket)
redis.call('ZADD', KEYS[4], bucket, epoch)
return epoch
