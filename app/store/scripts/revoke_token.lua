-- Revoke one token, found by value (modes 'd', 'D', 'v', 'V') or by id (mode 'i'), and record the event.
-- KEYS: [1] dg:{t}:<digest> (mode 'd' or 'D', see locate) or rt:{t}:<id> (mode 'i'; 'v' or 'V': the
--       record the value names, and [2] its pointer)
-- ARGV: [1] tag, [2] mode, [3] digest ('' with mode 'i'), [4] owner user id ('' = any),
--       [5] tenant id ('' = any), [6] stream max length, [7] event JSON,
--       [8] application id ('' = any: an OAuth client may revoke only its own tokens)
-- Returns: { 'ok', id, user, app, tenant } | { 'redirect', id } | { 'missing' }
--          | { 'foreign' } (a live token of another application, when [8] is given; unchanged)
-- A tombstone, an expired token, one a valid-from watermark or a revoke of its user killed, another owner's or tenant's
-- token, or an old rotated value are all 'missing' (404), as FusionAuth answers.
-- One read of the record serves the checks and the revoke (fields in revoke_fields's order).
local FIELDS = { 'u', 'c', 'rv', 'tn', 'ii', 'cd' }  -- and x third (read_record)
local id, rk, f = locate(ARGV[2], ARGV[3], FIELDS, 3, 7)
if id == 'redirect' then return { 'redirect', rk } end
if not id then return { 'missing' } end
f = f or read_record(rk, FIELDS, 3)
if not f[1] or f[4] then return { 'missing' } end
f[2] = app_of(f[2], rk)
f[5] = tenant_of(f[2], f[5])
if ARGV[3] ~= '' and not NAMED and not same_digest(f[7], ARGV[3]) then return { 'missing' } end
if ARGV[4] ~= '' and f[1] ~= ARGV[4] then return { 'missing' } end
if ARGV[5] ~= '' and f[5] ~= ARGV[5] then return { 'missing' } end
local from = valid_from(f[1], f[2])
if tonumber(f[6]) <= from or killed_with_user(f[1], f[2], id) then return { 'missing' } end
local now = now_ms()
if (ARGV[8] or '') ~= '' and f[2] ~= ARGV[8] then
  if tonumber(f[3]) > now then return { 'foreign' } end
  return { 'missing' }
end
local dead = {}
if revoke_fields(id, rk, f, from, now, AT_ONCE, dead) ~= 1 then return { 'missing' } end
bury(dead, now)
emit(ARGV[6], 'jwt.refresh-token.revoke', ARGV[7], 1, 0, { id }, { f[1], f[2], f[5] })
return { 'ok', id, f[1], f[2], f[5] }
