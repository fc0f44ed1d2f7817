-- Revoke every token of an application in this bucket at once: write the valid-from watermark
-- (av:) that every script checks, and count what it covered. O(log n), whatever the number of
-- tokens; the records are buried later, in small batches, by cleanup_app.lua.
-- KEYS: [1] a:{t}:<app> (live ids scored by expiry), [2] ad:{t}:<app> (tombstones),
--       [3] av:{t}:<app>, [4] ap:{t}:<app>, [5] ab:{t}:<app> (how many the cleanup buried)
-- ARGV: [1] tag, [2] cap on ids returned, [3] stream max length, [4] event JSON ('' = no event),
--       [5] how long the watermark must outlive now (ms: the longest an access token lives)
-- Returns: { invalidated, previously invalidated, id... (at most the cap) }
-- Counts: index members live by expiry, less those an earlier watermark already killed and the
-- cleanup has not buried yet (ap:), are invalidated now; those, the buried ones (ab:) and
-- tombstones were before.
local now = now_ms()
local cap = tonumber(ARGV[2])
local members = redis.call('ZCOUNT', KEYS[1], now + 1, '+inf')
local pending = math.min(tonumber(redis.call('GET', KEYS[4]) or 0), members)
local invalidated = members - pending
local previously = pending + redis.call('ZCOUNT', KEYS[2], now + 1, '+inf') + tonumber(redis.call('GET', KEYS[5]) or 0)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local until_ = math.max(tonumber(last[2] or 0), now + tonumber(ARGV[5]))
redis.call('SET', KEYS[3], now, 'PXAT', until_)
if members > 0 then redis.call('SET', KEYS[4], members, 'PXAT', until_) end
local ids = {}
if invalidated > 0 then
  -- the ids of the newest-expiring members: those an earlier watermark killed expire sooner
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', now + 1, 'LIMIT', 0, math.min(cap, invalidated))
  if ARGV[4] ~= '' then emit(ARGV[3], 'jwt.refresh-token.revoke', ARGV[4], invalidated, previously, ids) end
end
local out = { invalidated, previously }
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
