-- Read one live token (changes nothing): for retrieval by id, introspection and access-token
-- validation.
-- KEYS: [1] rt:{t}:<id>
-- ARGV: [1] tag, [2] digest its current value must have ('' = any),
--       [3] an access token's jti to check against the denylist dj:{t}: ('' = none)
-- Returns: { u, a, tn, ii, si, x, la, lad, m } or {} when missing, revoked, expired, killed by a
-- valid-from watermark or a revoke of its user (awaiting burial), (with [2]) not the current value, or (with [3]) a denied access token.
local f = redis.call('HMGET', KEYS[1], 'u', 'a', 'tn', 'ii', 'si', 'x', 'la', 'lad', 'm', 'rv', 'cd')
if not f[1] or f[10] or tonumber(f[6]) <= now_ms() then return {} end
if ARGV[2] ~= '' and f[11] ~= ARGV[2] then return {} end
if ARGV[3] ~= '' and redis.call('EXISTS', 'dj:' .. TAG .. ':' .. ARGV[3]) == 1 then return {} end
if tonumber(f[4]) <= valid_from(f[1], f[2]) then return {} end
if killed_with_user(f[1], f[2], locate('i', KEYS[1])) then return {} end
local out = {}
for j = 1, 9 do out[j] = f[j] or '' end
return out
