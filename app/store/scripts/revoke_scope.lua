-- Revoke every live token of a user, or of a user for one application, and record the event when any
-- was revoked.
-- KEYS: [1] the user's live index (u:), [2] the user's tombstone index (ud:)
-- ARGV: [1] tag, [2] tenant id ('' = any), [3] application id ('' = all of the user's),
--       [4] cap on ids returned, [5] stream max length, [6] event JSON, [7] user id
-- Returns: { invalidated, previously invalidated, the ids (at most the cap) joined by commas }
-- (One string for the ids: a reply element each cost Redis and the client ~1 us an id.)
-- All of a user's tokens are killed whole per application (kill_user: O(1) commands per application,
-- no record read but one; the records become tombstones later, bury_users.lua); one application's
-- are revoked record by record (revoke_many), found by intersecting u: with the application's indexes.
-- Counts are exact under concurrency: the script is atomic, so each token is counted once. A token
-- a valid-from watermark killed (still indexed until its burial), and one an earlier revoke of the
-- user killed (awaiting its burial), count as previously invalidated.
local now = now_ms()
local tenant, app, cap, user = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[7]
local previously = killed_count(user, app, tenant, now)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], now + 1, '+inf')) do
  local f = redis.call('HMGET', k_record(id), 'c', 'tn')
  f[1] = app_of(f[1], k_record(id))
  if f[1] and (app == '' or f[1] == app) and (tenant == '' or tenant_of(f[1], f[2]) == tenant) then
    previously = previously + 1
  end
end
local n, killed, ids
if app == '' then
  n, killed, ids = kill_user(user, now, tenant, cap)
else
  n, killed, ids = revoke_many(KEYS[1], user_app_ids(user, app), now, tenant, cap)
end
previously = previously + killed
local joined = ''
if n > 0 then joined = emit(ARGV[5], 'jwt.refresh-token.revoke', ARGV[6], n, previously, ids) end
return { n, previously, joined }
