-- Revoke every token of an application in this bucket at once: write the valid-from watermark
-- (av:) that every script checks, count what it covered, and move the live index whole to the
-- killed index (a: -> ak:, one RENAME) for cleanup_app.lua to bury later in small batches.
-- O(log n) whatever the number of tokens (see below for a repeated revoke while a burial is pending).
-- KEYS: [1] a:{t}:<app> (live ids scored by expiry), [2] ad:{t}:<app> (tombstones),
--       [3] av:{t}:<app>, [4] ak:{t}:<app> (killed, awaiting burial), [5] ab:{t}:<app> (buried count)
-- ARGV: [1] tag, [2] cap on ids returned,
--       [3] how long the watermark must outlive now (ms: the longest an access token lives)
-- Returns: { watermark, invalidated, previously invalidated, id... (at most the cap) }
-- Counts are exact: the live index's members unexpired are invalidated now; the killed index's
-- unexpired members, the tombstones unexpired, the buried ones and those a revoke of their user killed
-- (uk:, awaiting burial) were invalidated before.
-- The watermark is past now and past its previous value (see _lib.lua, same-millisecond rule): a
-- token stamped in this millisecond after an earlier watermark (insert instant now + 1) is covered.
local now = now_ms()
local cap = tonumber(ARGV[2])
local invalidated = redis.call('ZCOUNT', KEYS[1], now + 1, '+inf')
local previously = redis.call('ZCOUNT', KEYS[4], now + 1, '+inf') + redis.call('ZCOUNT', KEYS[2], now + 1, '+inf')
  + tonumber(redis.call('GET', KEYS[5]) or 0)
-- and those revokes of their users killed (awaiting burial: no longer in a:, not yet tombstones)
local app = string.match(KEYS[1], '^a:{[^}]*}:(.+)$')
for _, u in ipairs(redis.call('SMEMBERS', k_app_killed_users(app))) do
  previously = previously + redis.call('ZCOUNT', k_user_killed(u, app), now + 1, '+inf')
end
local ids = {}
if invalidated > 0 and cap > 0 then
  -- the ids of the newest-expiring members
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', now + 1, 'LIMIT', 0, math.min(cap, invalidated))
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    redis.call('RENAME', KEYS[1], KEYS[4])  -- keeps the index's expiry, which outlives its members
  else
    -- a burial is still pending: merge the smaller index into the larger one, then make the result
    -- the killed index. O(smaller): in practice the tokens minted since the previous revoke.
    local from, into = KEYS[1], KEYS[4]
    if redis.call('ZCARD', KEYS[1]) > redis.call('ZCARD', KEYS[4]) then from, into = KEYS[4], KEYS[1] end
    while true do
      local chunk = redis.call('ZRANGE', from, 0, 499, 'WITHSCORES')
      if #chunk == 0 then break end
      local args = {}
      for i = 1, #chunk, 2 do
        args[#args + 1] = chunk[i + 1]
        args[#args + 1] = chunk[i]
      end
      redis.call('ZADD', into, unpack(args))
      redis.call('ZREMRANGEBYRANK', from, 0, #chunk / 2 - 1)
    end
    if into == KEYS[1] then redis.call('RENAME', KEYS[1], KEYS[4]) end
    local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
    if last[2] then extend(KEYS[4], tonumber(last[2])) end
  end
end
local mark = math.max(now + 1, tonumber(redis.call('GET', KEYS[3]) or 0) + 1)
-- The watermark outlives every token it killed (they can no longer slide) and every access token.
local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
redis.call('SET', KEYS[3], mark, 'PXAT', math.max(tonumber(last[2] or 0), now + tonumber(ARGV[3])))
local out = { mark, invalidated, previously }
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
