-- Shared prelude: app/store/lua.py prepends to each script the definitions here it uses (prelude_for).
-- Key names mirror app/store/keys.py; every key built here carries the caller's tag (ARGV[1]),
-- so a script only ever touches the hash slot of the keys it was given (except, on one node where
-- no slots exist, when locate() in mode 'D' or 'V' follows a value's pointer into its record's bucket).
--
-- A token record rt:{t}:<id> is a hash:
--   u user id (its 16 bytes: user_text; written before: its text), c application (its bucket's code: app_of; a record written before codes: a, its id), tn tenant id (absent: tenant_of), ii insert instant, si start instant (absent: ii),
--   x expiry instant (no field: its key's expiry, read_record), pl expiry policy ("S:<ttl ms>" | "M:<ttl ms>:<max ms>"; absent, or "F" written before: fixed),
--   cd digest of the current value (its first 22 characters for a value naming the token: same_digest), la/lad last accessed instant/address, m metaData JSON (absent: {};
--   over META_PIECE bytes: in pieces m, m2, m3... and mn their count, see meta_fields),
--   rv revoke instant (present = tombstone: kept until x so a revoke is reported honestly
--   and an old value is recognised, never resurrected); a one-time token's own fields are listed in
--   exchange.lua (ou, pd, ra, gv/gw, and the ring h0.. / hn of its retired values' pointers).
-- Valid-from watermarks (strings, epoch ms; a token whose insert instant is at or before one
-- is dead): vf:{t}:<user> (Microsoft Graph's invalidateAllRefreshTokens) and av:{t}:<app>
-- (application-wide revocation, written into every bucket so each bucket's scripts read their own
-- copy; a tenant-wide revoke writes one for each of the tenant's applications). An application
-- watermark moves the application's live index a:{t}:<app> whole (RENAME, O(1)) to ak:{t}:<app>:
-- the members it killed, awaiting burial; ab:{t}:<app> counts those the burial has deleted.
-- A user's tokens of one application are u: intersected with a: (and, killed by an application
-- watermark and awaiting burial, with ak:): no index of their own (one was ~65 bytes a token).
-- A revoke of a user's tokens kills them whole, per application: the user's live ids of application
-- a (u: intersected with a:, scored by expiry) move to uk:{t}:<user>:<a>, which every lookup by
-- value or id checks (killed_with_user), and leave the live indexes at once; ux:{t}:<user> maps each
-- such application to its tenant, ka:{t}:<a> lists the users holding one, and kq:{t} queues the
-- users for bury_users.lua, which turns the records into tombstones later, in small batches.
-- Same-millisecond rule: mint.lua stamps a token's insert instant past every watermark it can see
-- (at least the watermark + 1), and an application watermark is set past every stamp that can
-- exist (at least now + 1, and past its previous value), so whatever Redis ran first decides:
-- a token minted before a watermark is dead, one minted after it lives, even in the same ms.

local TAG = ARGV[1]
-- The bucket of a value's digest pointer: TAG, unless locate() followed a pointer to a record in
-- another bucket (then TAG becomes the record's, and this stays the pointer's).
local VALUE_TAG = TAG

-- redis.call formats each number among its arguments with "%.17g", which for an instant costs more
-- than a whole GET. What a script writes (instants, scores, counts) therefore goes as a string: the
-- one it was read as, or int(v): "%d" (two thirds of the cost), once a call for each value, and
-- none for 0 and 1.
local TEXT = { [0] = '0', [1] = '1' }
local function int(v)
  local s = TEXT[v]
  if not s then
    s = string.format('%d', v)
    TEXT[v] = s
  end
  return s
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function k_record(id) return 'rt:' .. TAG .. ':' .. id end
local function k_pointer(dg) return 'dg:' .. VALUE_TAG .. ':' .. dg end
local function k_user(u) return 'u:' .. TAG .. ':' .. u end
local function k_app(a) return 'a:' .. TAG .. ':' .. a end
local function k_user_dead(u) return 'ud:' .. TAG .. ':' .. u end
local function k_app_dead(a) return 'ad:' .. TAG .. ':' .. a end
local function k_events() return 'ev:' .. TAG end
local function k_user_from(u) return 'vf:' .. TAG .. ':' .. u end
local function k_app_from(a) return 'av:' .. TAG .. ':' .. a end
local function k_app_killed(a) return 'ak:' .. TAG .. ':' .. a end
local function k_user_killed(u, a) return 'uk:' .. TAG .. ':' .. u .. ':' .. a end
local function k_user_killed_apps(u) return 'ux:' .. TAG .. ':' .. u end
local function k_app_killed_users(a) return 'ka:' .. TAG .. ':' .. a end
local function k_burial_queue() return 'kq:' .. TAG end
local function k_listing(u) return 'lk:' .. TAG .. ':' .. u end

-- A record keeps its user's id as its 16 bytes (field u; mint.lua's caller gives them): 20 bytes less
-- than its text, which with no x (below) makes a record's listpack 75 bytes, an 80-byte allocation
-- (bench/memory.py). Its text again (~0.9 us; with Lua's struct library, which Redis has and the
-- embedded store's Lua lacks: 16 bytes formatted one by one take ~1.5); a record written before keeps
-- the text, given as it is.
-- Each user's text is made once a call (a burial reads a user's tokens by the hundred).
local USER_TEXT = {}
local function user_text(u)
  if not u or #u ~= 16 then return u end
  local text = USER_TEXT[u]
  if text then return text end
  if struct then
    text = string.format('%08x-%04x-%04x-%04x-%04x%08x', struct.unpack('>I4I2I2I2I2I4', u))
  else
    text = string.format('%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x', string.byte(u, 1, 16))
  end
  USER_TEXT[u] = text
  return text
end

-- A record keeps no expiry field: its key's expiry is the token's (mint.lua sets it, a sliding
-- exchange moves it; a tombstone keeps it), 13 bytes less a record. read_record is HMGET rk names
-- (u first, when asked: given as text, user_text), with the key's expiry (as digits; false: no such
-- key) put at position x_at when given, as if x were a field there. A record written before also
-- holds a field x, always that same instant: it is not read.
local function read_record(rk, names, x_at)
  local f = redis.call('HMGET', rk, unpack(names))
  if x_at then
    local x = redis.call('PEXPIRETIME', rk)
    table.insert(f, x_at, x > 0 and int(x) or false)
  end
  if names[1] == 'u' then f[1] = user_text(f[1]) end
  return f
end
-- the fields a revoke reads, and x third (revoke_fields: u, c, x, rv, tn, ii)
local REVOKE_FIELDS = { 'u', 'c', 'rv', 'tn', 'ii' }

-- A token's tenant: its record's tn when it has one, else its application's, as the bucket's map
-- at:{t} (application -> tenant) names it. An application's tenant never changes, so mint.lua leaves
-- tn out of a record when the map names it (36 bytes a record; bench/memory.py says where a
-- record's bytes go), and writes the map's entry with an application's first token in the bucket; a record keeps
-- its tn when the map names another tenant (an application deleted, then made again in another).
-- '' when neither says (never expected).
local TENANTS = {}
local function tenant_of(a, tn)
  if tn then return tn end
  local t = TENANTS[a]
  if not t then
    t = redis.call('HGET', 'at:' .. TAG, a) or ''  -- (keys.app_tenants)
    TENANTS[a] = t
  end
  return t
end

-- A record names its application by a number of its bucket (field c, a code: 1, 2, ...), which the
-- bucket's map ac:{t} turns back into the application's id and its tenant as at:{t} names it (field
-- code -> "<id> <tenant>", one read for both; and id -> code for mint.lua, the field '#' the last code
-- given). An application's 36-character id was 38 of a record's listpack's bytes: a code is 2
-- (bench/memory.py). A record written before codes names its application by id in field a (read
-- then, from record rk: false for a record that is gone); a process of such a version finds no a in
-- a new record and fails loudly rather than take a code for an id. No expiry: an entry an
-- application, as at:{t}.
local APPS = {}
local function app_of(c, rk)
  if not c then return redis.call('HGET', rk, 'a') end
  local key = TAG .. c
  local a = APPS[key]
  if not a then
    local entry = redis.call('HGET', 'ac:' .. TAG, c)  -- (keys.app_codes)
    local t
    a, t = string.match(entry or '', '^(%S+) (.*)$')
    a = a or ''  -- never expected: the map keeps its entries
    TENANTS[a] = t
    APPS[key] = a
  end
  return a
end

-- The code of application a in this bucket, given now if it has none yet (after keeps_tenant: the
-- code's entry carries the tenant at:{t} names). Read once a call (an import batch: many tokens).
local CODES = {}
local function code_of(a)
  local map = 'ac:' .. TAG
  local c = CODES[a] or redis.call('HGET', map, a)
  if not c then
    c = tostring(redis.call('HINCRBY', map, '#', 1))
    redis.call('HSET', map, a, c, c, a .. ' ' .. tenant_of(a, nil))
  end
  CODES[a] = c
  return c
end

-- Whether a new record of application a must keep its tenant tn: not when the map names it (the
-- application's first token in the bucket writes its entry).
local function keeps_tenant(a, tn)
  local mapped = tenant_of(a, nil)
  if mapped ~= '' then return mapped ~= tn end
  redis.call('HSET', 'at:' .. TAG, a, tn)
  TENANTS[a] = tn
  return false
end
-- metaData longer than a listpack entry (64 bytes: Redis's default hash-max-listpack-value) would turn
-- the whole record into a hashtable, ~700 bytes more a token: it is kept in pieces of META_PIECE
-- bytes, m then m2, m3..., with mn their count when there is more than one (a record stays a
-- listpack while it has at most hash-max-listpack-entries fields: with 128, metaData up to ~7 KB,
-- ~2.8 KB beside a one-time token's full ring of 64).
local META_PIECE = 64
local function meta_fields(fields, m)
  local n = math.ceil(#m / META_PIECE)
  fields[#fields + 1], fields[#fields + 2] = 'm', string.sub(m, 1, META_PIECE)
  if n > 1 then
    fields[#fields + 1], fields[#fields + 2] = 'mn', n
    for i = 2, n do
      fields[#fields + 1], fields[#fields + 2] = 'm' .. i, string.sub(m, (i - 1) * META_PIECE + 1, i * META_PIECE)
    end
  end
end

-- A record's metaData JSON from its fields m and mn (as an HMGET read them) and, when in pieces, the rest.
local function meta_of(rk, m, mn)
  if not m then return '{}' end
  if not mn then return m end
  local names = {}
  for i = 2, tonumber(mn) do names[#names + 1] = 'm' .. i end
  return m .. table.concat(redis.call('HMGET', rk, unpack(names)))
end
local CHUNK = 1000  -- arguments per command (Lua's unpack has a limit)

-- User u's complete listing as list.lua last wrote it (lk:), forgotten by every change to what a
-- listing shows: a token minted, used (last access, expiry), revoked or killed. (Burying what a
-- revoke or a watermark killed changes nothing a listing shows: those were hidden already.)
local function forget_listing(u) redis.call('DEL', k_listing(u)) end

-- Whether a revoke of user u killed token `id` of application a, awaiting its burial (after which
-- the record is a tombstone).
local function killed_with_user(u, a, id)
  return redis.call('ZSCORE', k_user_killed(u, a), id) ~= false
end

-- The valid-from watermark covering a token of user u and application a (0: none): the later of
-- the two. (A tenant-wide revoke writes its applications' watermarks; the tenant's own tv: is
-- only for access tokens without a session, checked in app/access.py.)
local function valid_from(u, a)
  local w = redis.call('MGET', k_user_from(u), k_app_from(a))
  return math.max(tonumber(w[1]) or 0, tonumber(w[2]) or 0)
end

-- A one-time token's ring of retired values (exchange.lua): each entry is "<instant retired> <its
-- pointer's key past 'dg:'>", 62 bytes (a listpack entry).
local function ring_entry(at, pointer) return int(at) .. ' ' .. string.sub(pointer, 4) end
local function ring_read(entry)  -- the instant and the pointer's key
  local at, rest = string.match(entry, '^(%d+) (.+)$')
  return tonumber(at), 'dg:' .. rest
end

-- Keep `key` alive at least until instant `at` (ms); never shortens a longer life. One command when
-- it moves a life on (the usual case: a new token outlives the others); a second when the key had
-- no expiry yet (GT counts that as infinite) or a longer one.
local function extend(key, at)
  at = int(at)
  if redis.call('PEXPIREAT', key, at, 'GT') == 0 then redis.call('PEXPIREAT', key, at, 'NX') end
end

-- Append one event; fields: t type, d static JSON (built by app/events.py), n count,
-- p previously invalidated count, ids comma-separated token ids (capped by the caller), and
-- optionally u/a/tn: the user, application and tenant of a single token, known only here.
-- Returns the ids as written (for a script to answer with them as they are: one string, not a
-- reply element each).
local function emit(maxlen, etype, data, n, p, ids, owner)
  local joined = table.concat(ids, ',')
  local fields = { 't', etype, 'd', data, 'n', int(n), 'p', int(p), 'ids', joined }
  if owner then
    for _, v in ipairs({ 'u', owner[1], 'a', owner[2], 'tn', owner[3] }) do fields[#fields + 1] = v end
  end
  redis.call('XADD', k_events(), 'MAXLEN', '~', maxlen, '*', unpack(fields))
  return joined
end

-- Mark a record revoked (a tombstone until its natural expiry) and add it to its user's and its
-- application's tombstone indexes; an expired one is deleted instead (false).
local function tombstone(id, rk, f, now, ops, dead)
  local u, a, x = f[1], f[2], tonumber(f[3])
  if x <= now then
    ops.drop(rk)
    return false
  end
  redis.call('HSET', rk, 'rv', int(now))
  for _, key in ipairs({ k_user_dead(u), k_app_dead(a) }) do
    ops.add(key, f[3], id)
    if (dead[key] or 0) < x then dead[key] = x end
  end
  return true
end

-- One record's revocation, its index changes written through `ops` (at once for one token, in
-- batches for many: revoke_many). `f` is the record's u, a, x, rv, tn, ii; `from` its watermark.
-- Returns 1 revoked now, 0 already dead (a tombstone, or killed by a watermark: buried now), -1
-- expired. The record and live indexes change here; the tombstone indexes are added to `dead`
-- (key -> latest expiry), which the caller passes to bury() once, in the same atomic script.
local function revoke_fields(id, rk, f, from, now, ops, dead)
  if f[4] then return 0 end
  local u, a = f[1], f[2]
  ops.forget(u)
  ops.remove(k_user(u), id)
  ops.remove(k_app(a), id)
  -- killed by a watermark: perhaps in ak: instead (an application watermark moved a: there whole,
  -- with none but tokens inserted at or before it)
  local killed = tonumber(f[6]) <= from
  if killed then ops.remove(k_app_killed(a), id) end
  if not tombstone(id, rk, f, now, ops, dead) then return -1 end
  if killed then return 0 end  -- a watermark had already killed it
  return 1
end

local AT_ONCE = {
  remove = function(key, id) redis.call('ZREM', key, id) end,
  add = function(key, score, id) redis.call('ZADD', key, score, id) end,
  drop = function(key) redis.call('DEL', key) end,
  forget = forget_listing,
}

-- Revoke one record: 1 revoked now, 0 already dead, -1 missing or expired (revoke_fields).
local function revoke_record(id, now, dead)
  local rk = k_record(id)
  local f = read_record(rk, REVOKE_FIELDS, 3)
  if not f[1] then return -1 end
  f[2] = app_of(f[2], rk)
  return revoke_fields(id, rk, f, valid_from(f[1], f[2]), now, AT_ONCE, dead)
end

-- Trim expired tombstones from each touched tombstone index and keep it alive long enough.
local function bury(dead, now)
  for key, x in pairs(dead) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now))
    extend(key, x)
  end
end

-- revoke_record for many tokens of one index at once: one read and one write per record, and each
-- index changed by one command per 1,000 members (one by one, a user's revoke of 1,000 tokens was
-- ~10 commands a token and ~10 ms of Redis; this way ~7 ms). Records of another tenant (when
-- `tenant` is not '') are left alone; ids whose record is gone leave `index`.
-- Returns: revoked now, already dead, the ids revoked now (at most `cap`), their latest expiry.
local function revoke_many(index, members, now, tenant, cap)
  local removals, additions, dels, froms, dead, users = {}, {}, {}, {}, {}, {}
  local ops = {
    remove = function(key, id)
      local l = removals[key]
      if not l then l = {}; removals[key] = l end
      l[#l + 1] = id
    end,
    add = function(key, score, id)
      local l = additions[key]
      if not l then l = {}; additions[key] = l end
      l[#l + 1] = score
      l[#l + 1] = id
    end,
    drop = function(key) dels[#dels + 1] = key end,
    forget = function(u) users[u] = true end,
  }
  local n, previously, ids, latest = 0, 0, {}, 0
  for _, id in ipairs(members) do
    local rk = k_record(id)
    local f = read_record(rk, REVOKE_FIELDS, 3)
    f[2] = app_of(f[2], rk)
    if not f[1] then
      ops.remove(index, id)
    elseif tenant == '' or tenant_of(f[2], f[5]) == tenant then
      local scope = f[1] .. ':' .. f[2]
      if not froms[scope] then froms[scope] = valid_from(f[1], f[2]) end
      local revoked = revoke_fields(id, rk, f, froms[scope], now, ops, dead)
      if revoked == 1 then
        n = n + 1
        if n <= cap then ids[#ids + 1] = id end
        if tonumber(f[3]) > latest then latest = tonumber(f[3]) end
      elseif revoked == 0 then
        previously = previously + 1
      end
    end
  end
  for key, l in pairs(removals) do
    for i = 1, #l, CHUNK do redis.call('ZREM', key, unpack(l, i, math.min(i + CHUNK - 1, #l))) end
  end
  for key, l in pairs(additions) do
    for i = 1, #l, 2 * CHUNK do redis.call('ZADD', key, unpack(l, i, math.min(i + 2 * CHUNK - 1, #l))) end
  end
  for i = 1, #dels, CHUNK do redis.call('DEL', unpack(dels, i, math.min(i + CHUNK - 1, #dels))) end
  for u in pairs(users) do forget_listing(u) end
  bury(dead, now)
  return n, previously, ids, latest
end

-- User u's ids that are also in `index` (a:, or ak:): u: intersected with it into the scratch key
-- kt:{t}, scored by insert instant as u: is. Returns that key, for the caller to read and delete.
local function user_in(u, index)
  local probe = 'kt:' .. TAG
  redis.call('ZINTERSTORE', probe, 2, k_user(u), index, 'WEIGHTS', 1, 0)
  return probe
end

-- The ids of user u's tokens of application a still in u: (those in a:, and those an application
-- watermark killed, awaiting burial in ak:), oldest first in each.
local function user_app_ids(u, a)
  local out, probe = {}, nil
  for _, of_app in ipairs({ k_app(a), k_app_killed(a) }) do
    probe = user_in(u, of_app)
    for _, id in ipairs(redis.call('ZRANGE', probe, 0, -1)) do out[#out + 1] = id end
  end
  redis.call('DEL', probe)
  return out
end

-- Kill user u's live tokens of application a (tenant tn) whole: the members of u: that are in a:
-- and unexpired (ZINTERSTORE takes a:'s scores, their expiry) move to uk:{t}:<u>:<a> and leave u:
-- and a:, whatever their number, without reading a record. Only when none of them is at or before
-- the user's or application's valid-from: see whole.
-- Appends the killed ids to `ids` up to `cap`; returns how many, and their latest expiry.
local function kill_user_app(u, a, tn, now, cap, ids)
  local killed, app, of_user = 'kt:' .. TAG, k_app(a), k_user(u)
  local total = redis.call('ZINTERSTORE', killed, 2, of_user, app, 'WEIGHTS', 0, 1)
  if total == 0 then return 0, 0 end
  -- they all leave u:, expired or not
  if total == redis.call('ZCARD', of_user) then
    -- nothing else in u: (the usual user): cheaper than ZDIFFSTORE's copy, and freed off the main thread
    redis.call('UNLINK', of_user)
  else
    redis.call('ZDIFFSTORE', of_user, 2, of_user, killed)  -- (cheaper than a ZREM of them)
  end
  redis.call('ZREMRANGEBYSCORE', killed, '-inf', int(now))  -- expired: counted nowhere, as revoke_fields does
  local members = redis.call('ZRANGE', killed, 0, -1)
  if #members == 0 then return 0, 0 end
  for i = 1, #members, CHUNK do redis.call('ZREM', app, unpack(members, i, math.min(i + CHUNK - 1, #members))) end
  for i = 1, math.min(#members, cap - #ids) do ids[#ids + 1] = members[i] end
  local index = k_user_killed(u, a)
  if redis.call('EXISTS', index) == 1 then  -- an earlier kill still awaits its burial
    redis.call('ZUNIONSTORE', index, 2, index, killed, 'AGGREGATE', 'MAX')
    redis.call('DEL', killed)
  else
    redis.call('RENAME', killed, index)
  end
  local latest = tonumber(redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2])
  redis.call('PEXPIREAT', index, int(latest))  -- it lives as long as the longest-lived token it kills
  redis.call('HSET', k_user_killed_apps(u), a, tn)
  redis.call('SADD', k_app_killed_users(a), u)
  redis.call('ZADD', k_burial_queue(), 'NX', int(now), u)
  for _, key in ipairs({ k_user_killed_apps(u), k_app_killed_users(a), k_burial_queue() }) do extend(key, latest) end
  return #members, latest
end

-- Whether user u's tokens of application a in a: can be killed whole: none is at or before the
-- valid-from watermark covering it (such a token is dead already, or was dead on arrival: an import
-- with an insert instant before it). Those in ak: are not in a:, so kill_user_app leaves them.
local function whole(u, a)
  local from = valid_from(u, a)
  if from == 0 or redis.call('ZCOUNT', k_user(u), '-inf', int(from)) == 0 then return true end
  -- some token of the user (of any application) is at or before it: one of this application, in a:?
  local probe = user_in(u, k_app(a))
  local covered = redis.call('ZCOUNT', probe, '-inf', int(from))
  redis.call('DEL', probe)
  return covered == 0
end

-- Revoke every live token of user u (of `tenant` only, unless it is ''), as revoke_many would, but
-- application by application, oldest token first, each killed whole (kill_user_app) after reading a
-- single record (for its application and tenant: a token's tenant is its application's, which never
-- changes). What cannot be killed whole goes through revoke_many, record by record: an application
-- whose tokens a valid-from watermark covers (see whole), tokens an application watermark killed,
-- awaiting burial (in ak:, not a:), and, from the first token of another tenant on (left alone), the rest.
-- Returns what revoke_many returns: revoked now, already dead, the ids (at most `cap`), latest expiry.
local function kill_user(u, now, tenant, cap)
  forget_listing(u)
  local index = k_user(u)
  local ttl = redis.call('PTTL', index)
  local n, ids, latest, slow = 0, {}, 0, {}
  while true do
    local id = redis.call('ZRANGE', index, 0, 0)[1]
    if not id then break end
    local f = redis.call('HMGET', k_record(id), 'c', 'tn')
    f[1] = app_of(f[1], k_record(id))
    if not f[1] then
      redis.call('ZREM', index, id)  -- its record is gone (expired): counted nowhere
    else
      f[2] = tenant_of(f[1], f[2])
      if tenant ~= '' and f[2] ~= tenant then break end
      if whole(u, f[1]) then
        local count, last = kill_user_app(u, f[1], f[2], now, cap, ids)
        n, latest = n + count, math.max(latest, last)
      end
      if redis.call('ZSCORE', index, id) then  -- not killed whole: the application's rest, one by one
        local rest = user_app_ids(u, f[1])
        for i = 1, #rest, CHUNK do redis.call('ZREM', index, unpack(rest, i, math.min(i + CHUNK - 1, #rest))) end
        for _, other in ipairs(rest) do slow[#slow + 1] = other end
        if redis.call('ZSCORE', index, id) then break end  -- never expected: in neither a: nor ak:
      end
    end
  end
  if ttl > 0 and redis.call('EXISTS', index) == 1 then redis.call('PEXPIRE', index, ttl) end  -- *STORE drops it
  for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do slow[#slow + 1] = id end
  local more, previously, more_ids, later = revoke_many(index, slow, now, tenant, cap - #ids)
  for _, id in ipairs(more_ids) do ids[#ids + 1] = id end
  return n + more, previously, ids, math.max(latest, later)
end

-- How many of user u's tokens a kill_user still holds for burial, unexpired (of application `app`
-- and tenant `tenant` only, unless '').
local function killed_count(u, app, tenant, now)
  local n = 0
  local apps = redis.call('HGETALL', k_user_killed_apps(u))
  for i = 1, #apps, 2 do
    if (app == '' or apps[i] == app) and (tenant == '' or apps[i + 1] == tenant) then
      n = n + redis.call('ZCOUNT', k_user_killed(u, apps[i]), int(now + 1), '+inf')
    end
  end
  return n
end

-- User u's live sessions of application a (oldest first), forgetting ids whose record has expired
-- or gone.
local function live_ids(u, a, now)
  local out, index, probe = {}, k_user(u), user_in(u, k_app(a))
  local from
  for _, id in ipairs(redis.call('ZRANGE', probe, 0, -1)) do
    local f = read_record(k_record(id), { 'ii' }, 1)  -- x, ii
    if f[1] and tonumber(f[1]) > now then
      from = from or valid_from(u, a)
      if tonumber(f[2]) > from then out[#out + 1] = id end
    else
      redis.call('ZREM', index, id)
    end
  end
  redis.call('DEL', probe)
  return out
end

local function live_count(u, a, now) return #live_ids(u, a, now) end

-- Revoke user u's oldest sessions of application a until at most `keep` remain; each gets a revoke event.
local function evict_oldest(u, a, keep, now, maxlen, event)
  local ids = live_ids(u, a, now)
  for i = 1, #ids - keep do
    local dead = {}
    if revoke_record(ids[i], now, dead) == 1 then
      bury(dead, now)
      local f = read_record(k_record(ids[i]), { 'u', 'c', 'tn' })
      f[2] = app_of(f[2], k_record(ids[i]))
      emit(maxlen, 'jwt.refresh-token.revoke', event, 1, 0, { ids[i] }, { f[1], f[2], tenant_of(f[2], f[3]) })
    end
  end
end

-- Whether `cd`, a record's digest of its current value, is the digest `dg` of a presented value: the
-- whole digest, or, for a value that names its token (mint.lua and a rotation keep only the first
-- 22 characters of its digest, 132 bits: 21 bytes less a record; no pointer is ever made from it),
-- its start. (keys.same_digest in Python.)
local DIGEST_KEPT = 22  -- keys.DIGEST_KEPT
local function same_digest(cd, dg)
  return cd == dg or (cd and #cd == DIGEST_KEPT and string.find(dg, cd, 1, true) == 1) or false  -- (no new string)
end

-- The id in a record key rt:{t}:<id>.
local function id_of(record_key) return string.match(record_key, '^rt:{[^}]*}:(.+)$') end

-- A token id as Redis keeps it is its 16 bytes in base64url, 22 characters (keys.stored_id); a record
-- written before keeps its id whole, 36 characters (keys.record_written_before), and so do its
-- indexes and pointers. Ids read from Redis are used as they are; an id the caller gives is the short
-- form, whose record written before only whole_id names.
local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
local function b64_at(s, i) return string.find(B64, string.sub(s, i, i), 1, true) - 1 end

-- The whole (canonical) form of a 22-character id, nil for any other (~10 us: only for a record not
-- found under the short form).
local function whole_id(id)
  if #id ~= 22 then return nil end
  local bytes, acc, bits = {}, 0, 0
  for i = 1, 22 do
    acc, bits = acc * 64 + b64_at(id, i), bits + 6
    if bits >= 8 then
      bits = bits - 8
      local unit = 2 ^ bits
      local byte = math.floor(acc / unit)
      bytes[#bytes + 1] = byte
      acc = acc - byte * unit
    end
  end
  local h = string.format(string.rep('%02x', 16), unpack(bytes, 1, 16))
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-' .. string.sub(h, 13, 16) .. '-'
    .. string.sub(h, 17, 20) .. '-' .. string.sub(h, 21, 32)
end

-- The bucket (hex digit) of a token id in either form: the low nibble of its last byte (keys.bucket_of_id).
local function bucket_of(id)
  if #id ~= 22 then return string.sub(id, -1) end
  local n = (b64_at(id, 21) % 4) * 4 + math.floor(b64_at(id, 22) / 16)
  return string.sub('0123456789abcdef', n + 1, n + 1)
end

-- The record the caller names by key (rt:{t}:<id in the short form>) and its `fields` (the first one
-- every record has: u): that record's, or, when it has none, those of a record written before under
-- the id's whole form. Returns the key read and the fields (all nil: neither exists).
local function read_given(key, fields, x_at)
  local f = read_record(key, fields, x_at)
  if f[1] then return key, f end
  local whole = whole_id(id_of(key))
  if not whole then return key, f end
  local before = k_record(whole)
  local g = read_record(before, fields, x_at)
  if g[1] then return before, g end
  return key, f
end

-- How locate() found a token by value: by the record the value names (NAMED) or by a pointer
-- (FOUND_BY, the pointer's key: a sliding exchange extends it with the token).
local NAMED = false
local FOUND_BY = nil

-- Find a token by a presented value's digest `dg` or by id. Mode 'i': KEYS[1] is its record (or names
-- it: read_given). Modes
-- 'd'/'D': KEYS[1] is the value's digest pointer. Modes 'v'/'V' (a value naming its token, see
-- keys.named_id): KEYS[1] is the record the value names, taken when its current digest is `dg`;
-- otherwise KEYS[2], the value's pointer, decides (an old value of a one-time token, or a value
-- imported here that happens to have that form).
-- Returns id, record key, or nil. When a pointer leads to a record in another bucket (a value
-- imported from elsewhere): modes 'd'/'v' return ('redirect', id), for the caller to call again in
-- that bucket (a Cluster script may touch only its own slot); modes 'D'/'V', sent to a single Redis
-- where any key is at hand, go on there, in the record's bucket (TAG), saving the round trip.
-- `fields` are the record's fields the caller reads next (u first; its expiry put at x_at, see
-- read_record), `cd` among them at `at` (counted with x): when the
-- record was found by id or is the one the value names, locate returns them as its third result (nil
-- otherwise: read them).
local function locate(mode, dg, fields, x_at, at)
  local key = KEYS[1]
  if mode == 'i' then
    local rk, f = read_given(key, fields, x_at)
    return id_of(rk), rk, f
  end
  if mode == 'v' or mode == 'V' then
    local rk, f = read_given(key, fields, x_at)
    if same_digest(f[at], dg) then
      NAMED = true
      return id_of(rk), rk, f
    end
    key = KEYS[2]
  end
  local id = redis.call('GET', key)
  if not id then return nil end
  FOUND_BY = key
  local bucket = bucket_of(id)
  if bucket ~= string.sub(TAG, 3, 3) then
    if mode ~= 'D' and mode ~= 'V' then return 'redirect', id end
    TAG = '{b' .. bucket .. '}'
  end
  return id, k_record(id)
end
