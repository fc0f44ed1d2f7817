-- Shared prelude, prepended to every script by app/store/scripts.py.
-- Key names mirror app/store/keys.py; every key built here carries the caller's tag (ARGV[1]),
-- so a script only ever touches the hash slot of the keys it was given.
--
-- A token record rt:{t}:<id> is a hash:
--   u user id, a application id, tn tenant id, ii insert instant, si start instant,
--   x expiry instant, pl expiry policy ("F" | "S:<ttl ms>" | "M:<ttl ms>:<max ms>"),
--   cd digest of the current value, la/lad last accessed instant/address, m metaData JSON,
--   rv revoke instant (present = tombstone: kept until x so a revoke is reported honestly
--   and an old value is recognised, never resurrected).
-- Valid-from watermarks (strings, epoch ms; a token whose insert instant is at or before one
-- is dead): vf:{t}:<user> (Microsoft Graph's invalidateAllRefreshTokens) and av:{t}:<app>
-- (application-wide revocation, written into every bucket so each bucket's scripts read their own
-- copy; a tenant-wide revoke writes one for each of the tenant's applications). An application
-- watermark moves the application's live index a:{t}:<app> whole (RENAME, O(1)) to ak:{t}:<app>:
-- the members it killed, awaiting burial; ab:{t}:<app> counts those the burial has deleted.
-- Same-millisecond rule: mint.lua stamps a token's insert instant past every watermark it can see
-- (at least the watermark + 1), and an application watermark is set past every stamp that can
-- exist (at least now + 1, and past its previous value), so whatever Redis ran first decides:
-- a token minted before a watermark is dead, one minted after it lives, even in the same ms.

local TAG = ARGV[1]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function k_record(id) return 'rt:' .. TAG .. ':' .. id end
local function k_pointer(dg) return 'dg:' .. TAG .. ':' .. dg end
local function k_user(u) return 'u:' .. TAG .. ':' .. u end
local function k_user_app(u, a) return 'ua:' .. TAG .. ':' .. u .. ':' .. a end
local function k_app(a) return 'a:' .. TAG .. ':' .. a end
local function k_user_dead(u) return 'ud:' .. TAG .. ':' .. u end
local function k_app_dead(a) return 'ad:' .. TAG .. ':' .. a end
local function k_events() return 'ev:' .. TAG end
local function k_user_from(u) return 'vf:' .. TAG .. ':' .. u end
local function k_app_from(a) return 'av:' .. TAG .. ':' .. a end
local function k_app_killed(a) return 'ak:' .. TAG .. ':' .. a end

-- The valid-from watermark covering a token of user u and application a (0: none): the later of
-- the two. (A tenant-wide revoke writes its applications' watermarks; the tenant's own tv: is
-- only for access tokens without a session, checked in app/access.py.)
local function valid_from(u, a)
  local w = redis.call('MGET', k_user_from(u), k_app_from(a))
  return math.max(tonumber(w[1]) or 0, tonumber(w[2]) or 0)
end

-- Keep `key` alive at least until instant `at` (ms); never shortens a longer life.
local function extend(key, at, now)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or (ttl >= 0 and now + ttl < at) then
    redis.call('PEXPIREAT', key, at)
  end
end

-- Append one event; fields: t type, d static JSON (built by app/events.py), n count,
-- p previously invalidated count, ids comma-separated token ids (capped by the caller), and
-- optionally u/a/tn: the user, application and tenant of a single token, known only here.
local function emit(maxlen, etype, data, n, p, ids, owner)
  local fields = { 't', etype, 'd', data, 'n', n, 'p', p, 'ids', table.concat(ids, ',') }
  if owner then
    for _, v in ipairs({ 'u', owner[1], 'a', owner[2], 'tn', owner[3] }) do fields[#fields + 1] = v end
  end
  redis.call('XADD', k_events(), 'MAXLEN', '~', maxlen, '*', unpack(fields))
end

-- One record's revocation, its index changes written through `ops` (at once for one token, in
-- batches for many: revoke_many). `f` is the record's u, a, x, rv, tn, ii; `from` its watermark.
-- Returns 1 revoked now, 0 already dead (a tombstone, or killed by a watermark: buried now), -1
-- expired. The record and live indexes change here; the tombstone indexes are added to `dead`
-- (key -> latest expiry), which the caller passes to bury() once, in the same atomic script.
local function revoke_fields(id, rk, f, from, now, ops, dead)
  if f[4] then return 0 end
  local u, a, x = f[1], f[2], tonumber(f[3])
  ops.remove(k_user(u), id)
  ops.remove(k_user_app(u, a), id)
  ops.remove(k_app(a), id)
  ops.remove(k_app_killed(a), id)  -- an id is in one of these two (a watermark moved it): both is the same
  if x <= now then
    ops.drop(rk)
    return -1
  end
  redis.call('HSET', rk, 'rv', now)
  for _, key in ipairs({ k_user_dead(u), k_app_dead(a) }) do
    ops.add(key, x, id)
    if (dead[key] or 0) < x then dead[key] = x end
  end
  if tonumber(f[6]) <= from then return 0 end  -- a watermark had already killed it
  return 1
end

local AT_ONCE = {
  remove = function(key, id) redis.call('ZREM', key, id) end,
  add = function(key, score, id) redis.call('ZADD', key, score, id) end,
  drop = function(key) redis.call('DEL', key) end,
}

-- Revoke one record: 1 revoked now, 0 already dead, -1 missing or expired (revoke_fields).
local function revoke_record(id, now, dead)
  local rk = k_record(id)
  local f = redis.call('HMGET', rk, 'u', 'a', 'x', 'rv', 'tn', 'ii')
  if not f[1] then return -1 end
  return revoke_fields(id, rk, f, valid_from(f[1], f[2]), now, AT_ONCE, dead)
end

-- Trim expired tombstones from each touched tombstone index and keep it alive long enough.
local function bury(dead, now)
  for key, x in pairs(dead) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    extend(key, x, now)
  end
end

-- revoke_record for many tokens of one index at once: one read and one write per record, and each
-- index changed by one command per 1,000 members (one by one, a user's revoke of 1,000 tokens was
-- ~10 commands a token and ~10 ms of Redis; this way ~7 ms). Records of another tenant (when
-- `tenant` is not '') are left alone; ids whose record is gone leave `index`.
-- Returns: revoked now, already dead, the ids revoked now (at most `cap`), their latest expiry.
local function revoke_many(index, members, now, tenant, cap)
  local removals, additions, dels, froms, dead = {}, {}, {}, {}, {}
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
  }
  local n, previously, ids, latest = 0, 0, {}, 0
  for _, id in ipairs(members) do
    local rk = k_record(id)
    local f = redis.call('HMGET', rk, 'u', 'a', 'x', 'rv', 'tn', 'ii')
    if not f[1] then
      ops.remove(index, id)
    elseif tenant == '' or f[5] == tenant then
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
  local CHUNK = 1000  -- arguments per command (Lua's unpack has a limit)
  for key, l in pairs(removals) do
    for i = 1, #l, CHUNK do redis.call('ZREM', key, unpack(l, i, math.min(i + CHUNK - 1, #l))) end
  end
  for key, l in pairs(additions) do
    for i = 1, #l, 2 * CHUNK do redis.call('ZADD', key, unpack(l, i, math.min(i + 2 * CHUNK - 1, #l))) end
  end
  for i = 1, #dels, CHUNK do redis.call('DEL', unpack(dels, i, math.min(i + CHUNK - 1, #dels))) end
  bury(dead, now)
  return n, previously, ids, latest
end

-- Live sessions in an index (oldest first), forgetting ids whose record has expired or gone.
local function live_ids(index, now)
  local out = {}
  for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    local f = redis.call('HMGET', k_record(id), 'x', 'ii', 'u', 'a')
    if f[1] and tonumber(f[1]) > now then
      if tonumber(f[2]) > valid_from(f[3], f[4]) then out[#out + 1] = id end
    else
      redis.call('ZREM', index, id)
    end
  end
  return out
end

local function live_count(index, now) return #live_ids(index, now) end

-- Revoke the oldest sessions of an index until at most `keep` remain; each gets a revoke event.
local function evict_oldest(index, keep, now, maxlen, event)
  local ids = live_ids(index, now)
  for i = 1, #ids - keep do
    local dead = {}
    if revoke_record(ids[i], now, dead) == 1 then
      bury(dead, now)
      local f = redis.call('HMGET', k_record(ids[i]), 'u', 'a', 'tn')
      emit(maxlen, 'jwt.refresh-token.revoke', event, 1, 0, { ids[i] }, { f[1], f[2], f[3] })
    end
  end
end

-- Find a token by KEYS[1]: a digest pointer (mode 'd') or a record key (mode 'i').
-- Returns id, record key, or nil; or ('redirect', id) when the record lives in another bucket.
local function locate(mode, key)
  if mode == 'i' then
    return string.match(key, '^rt:{[^}]*}:(.+)$'), key
  end
  local id = redis.call('GET', key)
  if not id then return nil end
  if string.sub(id, -1) ~= string.sub(TAG, 3, 3) then return 'redirect', id end
  return id, k_record(id)
end
