-- Use a refresh token: check it is live, record the access, slide its expiry by its policy, and
-- for a one-time token rotate its value; detect reuse of an old value. Appends one event.
-- KEYS: [1] its digest pointer dg:{t}:<digest> (mode 'd' or 'D', see locate), the record rt:{t}:<id>
--       the value names and [2] that pointer (mode 'v' or 'V'), or its record (mode 'i')
-- ARGV: [1] tag, [2] mode, [3] digest of the presented value, [4] caller address,
--       [5] digest of the next value (used only by a one-time token; '' when the caller did not make
--       one: a one-time token then answers { 'rotate' }, changing nothing), which names [11],
--       [6] the next value sealed under the presented one (kept for the grace window),
--       [7] stream max length, [8] event JSON (type set here: jwt.refresh or jwt.refresh-token.reuse),
--       [9] the application the token must belong to ('' = any; an OAuth client's own tokens only),
--       [10] scopes the caller asks for, space-separated ('' = all it was granted),
--       [11] the token id the next value names: this token's, or (when the caller could not know it)
--       another of tag [1]'s bucket, and then the next value gets a pointer,
--       [12] how many retired values of a one-time token stay recognised as reuse (at least 1),
--       [13] the window (ms) within which rotating more often than that is refused
-- A token a revoke of its user killed (awaiting burial: killed_with_user) is 'revoked', as a tombstone is.
-- Returns: { 'ok', id, user, app, tenant, metaData JSON, expiry, start instant, slid (1|0), rotated (1|0) }
--          { 'grace', id, user, app, tenant, metaData JSON, expiry, start instant, 0, 0, sealed current value }
--          { 'redirect', id } (the record lives in another bucket: call again with mode 'i')
--          { 'invalid', reason } (unknown, revoked, expired, reuse, client, scope); an 'invalid'
--          answer for 'client' or 'scope' changes nothing
--          { 'invalid', 'rotations', ms } a one-time token rotated too often: nothing changes; it may
--          rotate again in ms
-- A one-time token's record keeps `ou` = "<grace ms>:<revoke on reuse 1|0>", `pd` the previous
-- digest, `ra` the rotation instant and `gv` the sealed current value (`gw` its rest past 64 bytes:
-- no field outgrows a listpack entry). Each of its last ARGV[12] old values has a pointer (one its
-- record named gets it as it retires; see the ring below), so presenting it again is recognised as
-- reuse, not as unknown: a value made up to name a token has none.
-- The record's fields every token may have; a one-time token's own (ou present) are read after the
-- checks, by a second HMGET: asking for a field a record lacks costs a scan of the whole record
-- (~2k instructions), and a reusable token, most exchanges, lacks all five.
local FIELDS = { 'u', 'c', 'tn', 'm', 'si', 'ii', 'pl', 'cd', 'rv', 'ou', 'mn' }  -- and x fifth (read_record)
local id, rk, f = locate(ARGV[2], ARGV[3], FIELDS, 5, 9)
if id == 'redirect' then return { 'redirect', rk } end
if not id then return { 'invalid', 'unknown' } end
f = f or read_record(rk, FIELDS, 5)
if not f[1] then return { 'invalid', 'unknown' } end
f[2] = app_of(f[2], rk)
f[3] = tenant_of(f[2], f[3])
if f[10] then return { 'invalid', 'revoked' } end
local now = now_ms()
local x = tonumber(f[5])
if x <= now then return { 'invalid', 'expired' } end
if tonumber(f[7]) <= valid_from(f[1], f[2]) or killed_with_user(f[1], f[2], id) then
  return { 'invalid', 'revoked' }
end
local owner = { f[1], f[2], f[3] }
local meta = meta_of(rk, f[4], f[12])
if ARGV[9] ~= '' and f[2] ~= ARGV[9] then return { 'invalid', 'client' } end
if ARGV[10] ~= '' then
  local granted = {}
  local held = cjson.decode(meta).scopes
  if type(held) == 'table' then
    for _, scope in ipairs(held) do granted[scope] = true end
  end
  for scope in string.gmatch(ARGV[10], '%S+') do
    if not granted[scope] then return { 'invalid', 'scope' } end
  end
end
-- a one-time token's previous digest, rotation instant, sealed current value (gv, gw) and ring count
local o = f[11] and redis.call('HMGET', rk, 'pd', 'ra', 'gv', 'gw', 'hn') or {}
if not NAMED and not same_digest(f[9], ARGV[3]) then  -- (NAMED: locate compared them)
  if not f[11] then return { 'invalid', 'unknown' } end
  local grace, revoke = string.match(f[11], '^(%d+):(%d)$')
  if o[1] == ARGV[3] and now < tonumber(o[2]) + tonumber(grace) then
    return { 'grace', id, f[1], f[2], f[3], meta, x, tonumber(f[6] or f[7]), 0, 0, o[3] .. (o[4] or '') }
  end
  local n = 0
  if revoke == '1' then
    local dead = {}
    n = math.max(revoke_record(id, now, dead), 0)
    bury(dead, now)
  end
  emit(ARGV[7], 'jwt.refresh-token.reuse', ARGV[8], n, 0, { id }, owner)
  return { 'invalid', 'reuse' }
end
-- a one-time token presented without a next value (its value was marked steady): nothing changed yet
if f[11] and ARGV[5] == '' then return { 'rotate' } end
-- A one-time token keeps its last ARGV[12] retired values recognisable: their pointers, listed in
-- its record's ring h0..h<ARGV[12]-1> ("<instant retired> <pointer key past 'dg:'>", 62 bytes: a
-- listpack entry; hn counts the values retired so far). The slot the next one takes holds the
-- oldest, whose pointer is deleted then, so however often a session rotates its pointers stay
-- bounded. Rotating that many times within the window would push a stolen value out before its
-- other holder comes back (reuse then unseen): refused, changing nothing, until the oldest is older.
local retired, slot, oldest_at, oldest_pointer = tonumber(o[5]) or 0, nil, nil, nil
if f[11] then
  slot = 'h' .. int(retired % tonumber(ARGV[12]))
  local oldest = redis.call('HGET', rk, slot)
  if oldest then oldest_at, oldest_pointer = ring_read(oldest) end
  local window = tonumber(ARGV[13])
  if oldest_at and oldest_at > now - window then return { 'invalid', 'rotations', oldest_at + window - now } end
end
local kind, ttl, max = string.match(f[8] or 'F', '^(%a):?(%d*):?(%d*)$')  -- none: 'F' (or, written before, 'F' or 'F:<ttl>')
local si = tonumber(f[6] or f[7])
local slid = 0
if kind ~= 'F' then
  si = now
  local nx = now + tonumber(ttl)
  if kind == 'M' then nx = math.min(nx, tonumber(f[7]) + tonumber(max)) end
  if nx > x then
    x, slid = nx, 1
    redis.call('PEXPIREAT', rk, int(x))
    -- the value's pointer, if it was found by one (one in another bucket, mode 'i', is the caller's to extend)
    if FOUND_BY then redis.call('PEXPIREAT', FOUND_BY, int(x)) end
    for _, key in ipairs({ k_user(f[1]), k_app(f[2]) }) do extend(key, x) end
    redis.call('ZADD', k_app(f[2]), 'XX', int(x), id)  -- the app index is scored by expiry
  end
end
local rotated = 0
if f[11] then
  local retiring = FOUND_BY  -- the retiring value's pointer: the one it was found by, or a new one
  if NAMED then
    retiring = k_pointer(ARGV[3])
    redis.call('SET', retiring, id, 'PXAT', int(x))
  end
  -- the next value names another token, of the presented value's bucket: its pointer goes there
  if ARGV[11] ~= id then redis.call('SET', k_pointer(ARGV[5]), id, 'PXAT', int(x)) end
  -- the sealed value in fields of at most 64 bytes (a listpack entry): 58 characters, or 88 for a value
  -- of another form (gw: the rest, '' for none)
  local fields = { 'cd', ARGV[11] == id and string.sub(ARGV[5], 1, DIGEST_KEPT) or ARGV[5], 'pd', ARGV[3], 'ra', int(now),
    'gv', string.sub(ARGV[6], 1, 64), 'gw', string.sub(ARGV[6], 65) }
  if retiring then
    if oldest_pointer then redis.call('DEL', oldest_pointer) end
    fields[11], fields[12] = slot, ring_entry(now, retiring)
    fields[13], fields[14] = 'hn', int(retired + 1)
  end
  redis.call('HSET', rk, unpack(fields))
  rotated = 1
end
if kind == 'F' then  -- a fixed life: start and expiry stay as they are
  redis.call('HSET', rk, 'la', int(now), 'lad', ARGV[4])
else
  redis.call('HSET', rk, 'la', int(now), 'lad', ARGV[4], 'si', int(si))  -- (x: the key's expiry, moved above)
end
forget_listing(f[1])
emit(ARGV[7], 'jwt.refresh', ARGV[8], 1, 0, { id }, owner)
return { 'ok', id, f[1], f[2], f[3], meta, x, si, slid, rotated }
