-- Revoke every live token in one index of one bucket, and record the event when any was revoked.
-- KEYS: [1] the live index (u:, ua: or a: of this tag), [2] its tombstone index (ud: or ad:)
-- ARGV: [1] tag, [2] tenant id ('' = any), [3] application id filter for the tombstone count
--       ('' = none), [4] cap on ids returned, [5] stream max length, [6] event JSON
-- Returns: { invalidated, previously invalidated, id... (at most the cap) }
-- Counts are exact under concurrency: the script is atomic, so each token is counted once. A token
-- a valid-from watermark killed (still indexed until its burial) counts as previously invalidated.
local now = now_ms()
local tenant, app, cap = ARGV[2], ARGV[3], tonumber(ARGV[4])
local previously = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], now + 1, '+inf')) do
  local f = redis.call('HMGET', k_record(id), 'a', 'tn')
  if f[1] and (app == '' or f[1] == app) and (tenant == '' or f[2] == tenant) then
    previously = previously + 1
  end
end
local n, killed, ids = revoke_many(KEYS[1], redis.call('ZRANGE', KEYS[1], 0, -1), now, tenant, cap)
previously = previously + killed
if n > 0 then emit(ARGV[5], 'jwt.refresh-token.revoke', ARGV[6], n, previously, ids) end
local out = { n, previously }
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
