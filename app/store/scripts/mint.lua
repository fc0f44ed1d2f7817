-- Create refresh-token records (one mint, or an import batch of one bucket) and their event.
-- KEYS: none besides those derived from the tag (the bucket's stream and the records' keys).
-- ARGV: [1] tag, [2] stream max length, [3] event type, [4] event JSON, [5] n,
--       then n groups of 13: id, digest, pointer (1: write the value's digest pointer, in this bucket;
--       0: none here: its pointer is in another bucket; n: none, the value names this token, and the
--       record keeps only the start of its digest, see same_digest), user, app, tenant,
--       insert instant ('' = now), start instant ('' = now), policy, metaData JSON,
--       one-time use ('' = reusable, else "<grace ms>:<revoke on reuse 1|0>"),
--       session limit ('' = none, else "<maximum>:<E (evict oldest) | R (reject new)>"),
--       the user id's 16 bytes (what the record keeps: user_text)
--       policy: "F:<ttl ms>" | "S:<ttl ms>" | "M:<ttl ms>:<max ms>"
-- Returns: { now, expiry of each token..., } or { 'duplicate', index } when a digest exists
--          (or repeats within the call), or { 'limit', index } when a session limit refuses a
--          new token; nothing is written then. Sessions evicted by a limit are revoked, each
--          with its own revoke event.
local now = now_ms()
local n = tonumber(ARGV[5])
local out, ids, users, trimmed = { now }, {}, {}, {}
local seen = {}
for i = 0, n - 1 do
  local b = 6 + i * 13
  local dg = ARGV[b + 1]
  if seen[dg] or (ARGV[b + 2] == '1' and redis.call('EXISTS', k_pointer(dg)) == 1) then
    return { 'duplicate', i }
  end
  seen[dg] = true
  local limit, policy = string.match(ARGV[b + 11], '^(%d+):(%a)$')
  if limit and policy == 'R' and live_count(ARGV[b + 3], ARGV[b + 4], now) >= tonumber(limit) then
    return { 'limit', i }
  end
end
for i = 0, n - 1 do
  local b = 6 + i * 13
  local id, dg, here, u, a, tn = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  -- a token minted in the millisecond of a valid-from reset, after it, is stamped just past it
  local ii = tonumber(ARGV[b + 6]) or math.max(now, valid_from(u, a) + 1)
  local si = tonumber(ARGV[b + 7]) or ii
  local pl = ARGV[b + 8]
  local kind, ttl, max = string.match(pl, '^(%a):(%d+):?(%d*)$')
  local x = si + tonumber(ttl)
  if kind == 'M' then x = math.min(x, ii + tonumber(max)) end
  local rk = k_record(id)
  local limit, policy = string.match(ARGV[b + 11], '^(%d+):(%a)$')
  if limit and policy == 'E' then evict_oldest(u, a, tonumber(limit) - 1, now, ARGV[2], ARGV[4]) end
  -- a start instant equal to the insert instant and empty metaData are left out (readers default them),
  -- and so is a fixed policy (pl absent: 'F'; the key's expiry holds its end), the expiry itself
  -- (read_record), the application is its bucket's code (app_of) and the user's id its 16 bytes
  -- (user_text): with FusionAuth's 30 days a record's listpack is 75 bytes, an 80-byte allocation
  -- (with pl "F:<ttl>" it was 225, 256; with pl "F" and the application's id in a 151, 160; with x
  -- and the user's id as text 108, 112)
  local keeps = keeps_tenant(a, tn)
  local fields = { 'u', ARGV[b + 12], 'c', code_of(a), 'ii', int(ii), 'cd', here == 'n' and string.sub(dg, 1, DIGEST_KEPT) or dg }
  if kind ~= 'F' then fields[#fields + 1], fields[#fields + 2] = 'pl', pl end
  -- and the tenant, when the bucket's map names it for the application (see tenant_of)
  if keeps then fields[#fields + 1], fields[#fields + 2] = 'tn', tn end
  if si ~= ii then fields[#fields + 1], fields[#fields + 2] = 'si', int(si) end
  if ARGV[b + 10] ~= '' then fields[#fields + 1], fields[#fields + 2] = 'ou', ARGV[b + 10] end
  if ARGV[b + 9] ~= '{}' then meta_fields(fields, ARGV[b + 9]) end
  redis.call('HSET', rk, unpack(fields))
  redis.call('PEXPIREAT', rk, int(x))
  if here == '1' then redis.call('SET', k_pointer(dg), id, 'PXAT', int(x)) end
  redis.call('ZADD', k_user(u), int(ii), id)
  extend(k_user(u), x)
  -- scored by expiry: live members are counted in O(log n), and the expired leave it here, once a
  -- call (nothing else removes them but a revoke of the application: an application that never is
  -- would keep every token it ever had, ~120 bytes each)
  if not trimmed[a] then
    redis.call('ZREMRANGEBYSCORE', k_app(a), '-inf', int(now))
    trimmed[a] = true
  end
  redis.call('ZADD', k_app(a), int(x), id)
  extend(k_app(a), x)
  out[#out + 1] = x
  ids[#ids + 1] = id
  users[u] = true
end
-- A user's index kept an expired token's id until the user was listed or revoked (its record expires by
-- itself; nothing else took the id out): a user who signs in every day and is never listed kept one
-- more each day (~24 bytes). When the index holds more than TRIM_FROM ids, each call looks at the
-- user's two oldest and one at random and drops those whose record is gone: a call adds one id a token
-- and takes out up to three dead ones, and the random one gets past old tokens still live at the
-- front. Below that a user's dead ids are at most TRIM_FROM (~800 bytes), and the trim costs a ZCARD
-- only: it costs a mint ~7 us of Redis (~4% of a mint's throughput) where it runs.
local TRIM_FROM = 32
local function trim_user(u)
  local index = k_user(u)
  if redis.call('ZCARD', index) <= TRIM_FROM then return end
  local looked = redis.call('ZRANGE', index, 0, 1)
  local pick = redis.call('ZRANDMEMBER', index, 1)[1]  -- (with a count: the embedded store's answer is a list either way)
  if pick then looked[#looked + 1] = pick end
  for _, id in ipairs(looked) do
    if redis.call('EXISTS', k_record(id)) == 0 then redis.call('ZREM', index, id) end
  end
end

for u in pairs(users) do
  trim_user(u)
  forget_listing(u)
end
emit(ARGV[2], ARGV[3], ARGV[4], n, 0, ids)
return out
