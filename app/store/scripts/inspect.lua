-- Read one live token (changes nothing): for retrieval by id, introspection and access-token
-- validation.
-- KEYS: [1] rt:{t}:<id> (or the key naming a record written before: read_given)
-- ARGV: [1] tag, [2] digest its current value must have ('' = any),
--       [3] an access token's jti to check against the denylist dj:{t}: ('' = none),
--       [4] '1' to ask only whether it is live (validation: nothing else is read or returned)
-- Returns: { u, a, tn, ii, si, x, la, lad, m } (or 1, with [4]) or {} when missing, revoked, expired,
-- killed by a valid-from watermark or a revoke of its user (awaiting burial), or (with [3]) a denied
-- access token; 0 (with [2]) when the record is missing or [2] is not its current value's digest
-- (for a value naming this token: then its pointer, if any, decides).
local only_live = ARGV[4] == '1'
local FIELDS = { 'u', 'c', 'ii', 'rv', 'cd', 'tn', 'si', 'la', 'lad', 'm', 'mn' }  -- and x third (read_record)
local rk, f
if only_live then
  -- a validation asks for no expiry: a record's expiry is its key's, so a record found is unexpired
  rk, f = read_given(KEYS[1], { 'u', 'c', 'ii', 'rv', 'cd' })
  table.insert(f, 3, false)
else
  rk, f = read_given(KEYS[1], FIELDS, 3)
end
f[2] = app_of(f[2], rk)
if ARGV[2] ~= '' and not same_digest(f[6], ARGV[2]) then return 0 end
if not f[1] or f[5] or (f[3] and tonumber(f[3]) <= now_ms()) then return {} end
if ARGV[3] ~= '' and redis.call('EXISTS', 'dj:' .. TAG .. ':' .. ARGV[3]) == 1 then return {} end
if tonumber(f[4]) <= valid_from(f[1], f[2]) then return {} end
if killed_with_user(f[1], f[2], id_of(rk)) then return {} end
if only_live then return 1 end
return { f[1], f[2], tenant_of(f[2], f[7]), f[4], f[8] or '', f[3], f[9] or '', f[10] or '', f[11] and meta_of(rk, f[11], f[12]) or '' }
