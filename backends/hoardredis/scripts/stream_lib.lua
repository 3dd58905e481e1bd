-- Functions shared by the stream write-behind scripts (stream_queue.go).
-- Not a script of its own: it is prepended to stream_ack.lua,
-- stream_oldest.lua and stream_expire_consumers.lua at init. Stream IDs are
-- compared as two numbers: Lua's doubles hold millisecond times and sequence
-- numbers exactly.
--
-- parse_id(id)            splits "ms-seq" (or "ms") into two digit strings;
--                         '0', '0' when id is not an ID
-- id_lt(a, b)             whether ID a sorts before ID b
-- field(list, name)       the value after name in a flat name/value reply
-- first_unacked(s, only)  the lowest ID a group may still need (see below)
local function parse_id(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  if not ms then
    ms, seq = string.match(id or '', '^(%d+)$'), '0' -- "0", as XGROUP CREATE may keep it
  end
  if not ms then return '0', '0' end
  return ms, seq
end

local function id_lt(a, b)
  local ams, aseq = parse_id(a)
  local bms, bseq = parse_id(b)
  ams, aseq, bms, bseq = tonumber(ams), tonumber(aseq), tonumber(bms), tonumber(bseq)
  return ams < bms or (ams == bms and aseq < bseq)
end

local function field(list, name)
  for i = 1, #list, 2 do
    if list[i] == name then return list[i + 1] end
  end
  return nil
end

-- first_unacked returns the lowest ID that a group (only, or any when
-- only is '') may still need: its oldest pending entry, else the one
-- after its last delivered. Every entry below it has been delivered to
-- the group and acknowledged. It returns nil when the stream does not
-- exist, or has no group (only ''), and '0-0' when the group only is
-- missing: nothing of the stream is known to be acknowledged.
local function first_unacked(stream, only)
  if redis.call('EXISTS', stream) == 0 then return nil end
  local best = nil
  local found = false
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local name = field(g, 'name')
    if only == '' or name == only then
      found = true
      local cand
      local p = redis.call('XPENDING', stream, name, '-', '+', 1)
      if #p > 0 then
        cand = p[1][1]
      else
        local ms, seq = parse_id(field(g, 'last-delivered-id'))
        local n = tonumber(seq)
        if n < 9007199254740992 then
          cand = ms .. '-' .. string.format('%.0f', n + 1)
        else
          cand = ms .. '-' .. seq -- keeps one acknowledged entry: safe
        end
      end
      if best == nil or id_lt(cand, best) then best = cand end
    end
  end
  if only ~= '' and not found then return '0-0' end
  return best
end
