-- Microsoft Graph's invalidateAllRefreshTokens: set the user's valid-from to now, and revoke (and
-- count) every live token of the user in the same step, with one event. The tokens are killed whole
-- per application (kill_user); their records become tombstones later (bury_users.lua).
-- KEYS: [1] vf:{t}:<user>, [2] u:{t}:<user>
-- ARGV: [1] tag, [2] cap on ids returned, [3] stream max length, [4] event JSON,
--       [5] how long the watermark must outlive now (ms: the longest an access token lives), [6] user id
-- Returns: { valid-from instant, invalidated, the ids (at most the cap) joined by commas }
-- Every token minted before (or in the same millisecond, before) is dead; mint.lua stamps a token
-- minted in that millisecond, after it, one millisecond later, so it lives.
local now = now_ms()
local cap = tonumber(ARGV[2])
local n, _, ids, latest = kill_user(ARGV[6], now, '', cap)
-- The watermark protects access tokens too: it lives at least as long as the longest of them.
redis.call('SET', KEYS[1], int(now), 'PXAT', int(math.max(latest, now + tonumber(ARGV[5]))))
return { now, n, emit(ARGV[3], 'user.invalidate-all', ARGV[4], n, 0, ids) }
