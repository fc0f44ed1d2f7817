-- List a user's live tokens (of one application, when given), newest first, from a cursor; drops ids
-- whose record expired.
-- KEYS: [1] the user's live index (u:)
-- ARGV: [1] tag, [2] limit, [3] cursor insert instant ('' = from the newest), [4] cursor id (as
--       stored: keys.stored_id), [5] tenant id ('' = any), [6] the user id, [7] application id ('' = any),
--       [8] the cursor id in its canonical form, which a record written before keeps (and indexes)
-- Returns: { more (0|1), the rows joined by \1 ('' for none) }: a row a token, its id (as stored), u,
-- a, tn, ii, si, x, la, lad, m joined by NUL (none can hold either: ids are UUIDs or base64url,
-- instants digits, lad an address, m JSON, which escapes control characters).
-- Cursor: tokens strictly older than (instant, id) in the order (insert instant desc, id desc).
-- (One string for them all: Redis converts each element of a reply into Lua and back, ~0.4 us
-- each, and the client parses each.)
-- A user's whole listing (the u: index, from the newest, every token within the limit, at most
-- KEPT of them) is kept in lk:{t}:<user>, a hash: h its earliest expiry, the tenant it was listed
-- for, how many rows, then (application, valid-from) pairs, each ended by \1; r the rows as returned
-- (apart: a string made in Lua costs Redis ~12 instructions a byte, its garbage collection mostly,
-- so the rows are never cut out of a longer one). It is given again while it is whole: unexpired,
-- for the same tenant, within the limit, and under the same watermarks (an application's is written
-- for all its users at once, so it is compared here). Every other change to what a listing shows
-- forgets it (forget_listing in _lib.lua). A listing reads each record (~4 us of Redis a token);
-- this reads one key. (lc:, a list an earlier version kept, is no longer read.)
local KEPT, KEPT_MS = 100, 600000
local ROW = { 'u', 'c', 'tn', 'ii', 'si', 'la', 'lad', 'm', 'rv', 'mn' }  -- a record's fields a row shows, and x sixth
local now = now_ms()
local limit, tenant, user = tonumber(ARGV[2]), ARGV[5], ARGV[6]
local cursor, after = ARGV[3] ~= '', ARGV[4]
-- a cursor at a token of a record written before: its id as its index holds it (ties are skipped by it)
if cursor and ARGV[8] ~= after and redis.call('ZSCORE', KEYS[1], ARGV[8]) then after = ARGV[8] end
local app = ARGV[7]
local whole = not cursor and app == ''
if whole then
  local kept = redis.call('HMGET', k_listing(user), 'h', 'r')
  if kept[1] then
    local head = {}
    for part in string.gmatch(kept[1], '([^\1]*)\1') do head[#head + 1] = part end
    local same = now < tonumber(head[1]) and head[2] == tenant and tonumber(head[3]) <= limit
    for i = 4, #head, 2 do
      if not same then break end
      same = valid_from(user, head[i]) == tonumber(head[i + 1])
    end
    if same then return { 0, kept[2] } end
  end
end
-- One application's: the user's index intersected with the application's (scored by insert instant,
-- as u: is), a scratch key deleted before the script ends.
local index, probe = KEYS[1], nil
if app ~= '' then
  probe = user_in(user, k_app(app))
  index = probe
end
local function done(more, rows)
  if probe then redis.call('DEL', probe) end
  return { more, table.concat(rows, '\1') }
end
local max, at = '+inf', tonumber(ARGV[3])
if cursor then max = ARGV[3] end
local out, found, offset = {}, 0, 0
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
      local f = read_record(rk, ROW, 6)
      f[2] = app_of(f[2], rk)
      if not f[1] or tonumber(f[6]) <= now then
        redis.call('ZREM', KEYS[1], id)
        if probe then redis.call('ZREM', probe, id) end
        offset = offset - 1
      elseif not f[10] and (tenant == '' or tenant_of(f[2], f[3]) == tenant) and not killed(f[1], f[2], f[4]) then
        if found == limit then return done(1, out) end
        found = found + 1
        local x = tonumber(f[6])
        if x < earliest then earliest = x end
        out[found] = id .. '\0' .. f[1] .. '\0' .. f[2] .. '\0' .. tenant_of(f[2], f[3]) .. '\0' .. (f[4] or '')
          .. '\0' .. (f[5] or '') .. '\0' .. f[6] .. '\0' .. (f[7] or '') .. '\0' .. (f[8] or '') .. '\0' .. (f[9] and meta_of(rk, f[9], f[11]) or '')
      end
    end
  end
  if #page < PAGE * step then break end  -- the index holds no more (this script only removes)
end
local answer = done(0, out)
if whole and found <= KEPT then
  local head = { int(earliest), tenant, int(found) }
  for a, from in pairs(froms[user] or {}) do
    head[#head + 1] = a
    head[#head + 1] = int(from)
  end
  local key = k_listing(user)
  redis.call('HSET', key, 'h', table.concat(head, '\1') .. '\1', 'r', answer[2])
  redis.call('PEXPIREAT', key, int(earliest))
end
return answer
