-- List a user's live tokens (of one application, when given), newest first, from a cursor; drops ids
-- whose record expired.
-- KEYS: [1] the user's live index (u:)
-- ARGV: [1] tag, [2] limit, [3] cursor insert instant ('' = from the newest), [4] cursor id,
--       [5] tenant id ('' = any), [6] the user id, [7] application id ('' = any)
-- Returns: { more (0|1), then per token one string: id, u, a, tn, ii, si, x, la, lad, m joined by
-- NUL (none can hold one: ids are UUIDs, instants digits, lad an address, m JSON, which escapes it) }
-- Cursor: tokens strictly older than (instant, id) in the order (insert instant desc, id desc).
-- (One string a token, not ten: Redis converting replies to Lua and back, and the client parsing
-- them, cost per element.)
-- A user's whole listing (the u: index, from the newest, every token within the limit, at most
-- KEPT of them) is kept in lc:{t}:<user>, a list: its earliest expiry, the tenant it was listed for,
-- how many (application, valid-from) pairs follow, those pairs, then the rows. It is given again
-- while it is whole: unexpired, for the same tenant, within the limit, and under the same watermarks
-- (an application's is written for all its users at once, so it is compared here). Every other
-- change to what a listing shows forgets it (forget_listing in _lib.lua). A listing reads each record
-- (~4 us of Redis a token); this reads one key.
local KEPT, KEPT_MS = 100, 600000
local now = now_ms()
local limit, tenant, user = tonumber(ARGV[2]), ARGV[5], ARGV[6]
local cursor, after = ARGV[3] ~= '', ARGV[4]
local app = ARGV[7]
local whole = not cursor and app == ''
if whole then
  local kept = redis.call('LRANGE', k_listing(user), 0, -1)
  if #kept > 0 and now < tonumber(kept[1]) and kept[2] == tenant then
    local pairs_end = 3 + 2 * tonumber(kept[3])
    local same = #kept - pairs_end <= limit
    for i = 4, pairs_end, 2 do
      if not same then break end
      same = valid_from(user, kept[i]) == tonumber(kept[i + 1])
    end
    if same then
      local out = { 0 }
      for i = pairs_end + 1, #kept do out[#out + 1] = kept[i] end
      return out
    end
  end
end
-- One application's: the user's index intersected with the application's (scored by insert instant,
-- as u: is), a scratch key deleted before the script ends.
local index, probe = KEYS[1], nil
if app ~= '' then
  probe = 'kt:' .. TAG
  redis.call('ZINTERSTORE', probe, 2, KEYS[1], k_app(app), 'WEIGHTS', 1, 0)
  index = probe
end
local function done(out)
  if probe then redis.call('DEL', probe) end
  return out
end
local max, at = '+inf', tonumber(ARGV[3])
if cursor then max = ARGV[3] end
local out, found, offset = { 0 }, 0, 0
local earliest = now + KEPT_MS  -- the earliest expiry listed (and a kept listing's latest)
local froms = {}  -- user -> application -> valid-from watermark: each read once
local function killed(u, a, ii)
  local of_user = froms[u]
  if not of_user then
    of_user = {}
    froms[u] = of_user
  end
  local from = of_user[a]
  if not from then
    from = valid_from(u, a)
    of_user[a] = from
  end
  -- no watermark (0) kills nothing: every insert instant is past 0, and tonumber is not free
  return from ~= 0 and tonumber(ii) <= from
end
-- Scores (insert instants) are read only with a cursor: only then must ids tied with it be skipped.
local step, PAGE = 1, 200
while true do
  local page
  if cursor then
    page, step = redis.call('ZREVRANGEBYSCORE', index, max, '-inf', 'WITHSCORES', 'LIMIT', offset, PAGE), 2
  else
    page = redis.call('ZREVRANGEBYSCORE', index, max, '-inf', 'LIMIT', offset, PAGE)
  end
  if #page == 0 then break end
  offset = offset + #page / step
  for i = 1, #page, step do
    local id = page[i]
    if not (cursor and tonumber(page[i + 1]) == at and id >= after) then
      local rk = k_record(id)
      local f = redis.call('HMGET', rk, 'u', 'a', 'tn', 'ii', 'si', 'x', 'la', 'lad', 'm', 'rv', 'mn')
      if not f[1] or tonumber(f[6]) <= now then
        redis.call('ZREM', KEYS[1], id)
        if probe then redis.call('ZREM', probe, id) end
        offset = offset - 1
      elseif not f[10] and (tenant == '' or f[3] == tenant) and not killed(f[1], f[2], f[4]) then
        if found == limit then
          out[1] = 1
          return done(out)
        end
        found = found + 1
        local x = tonumber(f[6])
        if x < earliest then earliest = x end
        out[found + 1] = id .. '\0' .. f[1] .. '\0' .. f[2] .. '\0' .. (f[3] or '') .. '\0' .. (f[4] or '')
          .. '\0' .. (f[5] or '') .. '\0' .. f[6] .. '\0' .. (f[7] or '') .. '\0' .. (f[8] or '') .. '\0' .. (f[9] and meta_of(rk, f[9], f[11]) or '')
      end
    end
  end
  if #page < PAGE * step then break end  -- the index holds no more (this script only removes)
end
if whole and found <= KEPT then
  local marks = {}
  for a, from in pairs(froms[user] or {}) do
    marks[#marks + 1] = a
    marks[#marks + 1] = int(from)
  end
  local key = k_listing(user)
  redis.call('DEL', key)
  redis.call('RPUSH', key, int(earliest), tenant, int(#marks / 2), unpack(marks))
  if found > 0 then redis.call('RPUSH', key, unpack(out, 2)) end
  redis.call('PEXPIREAT', key, int(earliest))
end
return done(out)
