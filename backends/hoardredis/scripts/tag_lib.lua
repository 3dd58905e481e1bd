-- Functions the tag clock's scripts share (tags.go). Not a script of its
-- own: it is prepended to invalidate_tags.lua and tag_epoch.lua at init.
--
-- Stamps that age out. A stamp set with a TTL (Options.TagStampTTL)
-- expires, and a tag with no stamp must still read as stamped at or after
-- every stamp it lost, or the entries that stamp invalidated would be
-- valid again. So each stamping records its epoch in the clock's aging
-- set, under the time its stamps expire, rounded down to a sixteenth of
-- their TTL (one member per such bucket, at most about 17 for one TTL),
-- and the clock's floor takes in every bucket whose time has come: it is
-- then at least every stamp that may have expired. A tag with no stamp
-- reads as the later of the clock's start and its floor. An entry whose
-- epoch is below the floor and that has a tag with no stamp (one never
-- stamped too) reads as invalidated: the floor is an epoch of more than
-- fifteen sixteenths of a TTL ago, so that concerns only entries older
-- than that, and a TTL above the longest life of an entry leaves none.
-- Times are Redis's own (TIME), the clock Redis expires the stamps by.
--
-- KEYS[1] the epoch, KEYS[2] the start, KEYS[3] the floor, KEYS[4] the
-- aging set (a sorted set: score the bucket's time in ms, member an
-- epoch); the stamps follow from KEYS[5].

-- now_ms returns Redis's time in milliseconds.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- later returns the larger of two epochs given as decimal strings (Lua
-- numbers hold them exactly, below 2^53), as a string: printing a Lua
-- number would round it.
local function later(a, b)
  if a == nil or a == false then return b end
  if b == nil or b == false then return a end
  if tonumber(b) > tonumber(a) then return b end
  return a
end

-- fold moves into the floor every bucket of the aging set whose time has
-- come, and returns the floor (false when there is none).
local function fold(floor_key, aging_key, now)
  local floor = redis.call('GET', floor_key)
  local due = redis.call('ZRANGEBYSCORE', aging_key, '-inf', now)
  if #due == 0 then return floor end
  for _, e in ipairs(due) do floor = later(floor, e) end
  redis.call('SET', floor_key, floor)
  redis.call('ZREMRANGEBYSCORE', aging_key, '-inf', now)
  return floor
end
