-- Use a refresh token: check it is live, record the access, slide its expiry by its policy.
-- KEYS: [1] its digest pointer dg:{t}:<digest> (mode 'd') or record rt:{t}:<id> (mode 'i')
-- ARGV: [1] tag, [2] mode, [3] digest of the presented value, [4] caller address
-- Returns: { 'ok', id, user, app, tenant, metaData JSON, expiry, start instant, slid (1|0) }
--          or { 'redirect', id } (the record lives in another bucket: call again with mode 'i')
--          or { 'invalid', reason } (unknown, revoked, expired, or not the current value)
local id, rk = locate(ARGV[2], KEYS[1])
if id == 'redirect' then return { 'redirect', rk } end
if not id then return { 'invalid', 'unknown' } end
local f = redis.call('HMGET', rk, 'u', 'a', 'tn', 'm', 'x', 'si', 'ii', 'pl', 'cd', 'rv')
if not f[1] then return { 'invalid', 'unknown' } end
if f[10] then return { 'invalid', 'revoked' } end
if f[9] ~= ARGV[3] then return { 'invalid', 'unknown' } end
local now = now_ms()
local x = tonumber(f[5])
if x <= now then return { 'invalid', 'expired' } end
local kind, ttl, max = string.match(f[8], '^(%a):(%d+):?(%d*)$')
local si = tonumber(f[6])
local slid = 0
if kind ~= 'F' then
  si = now
  local nx = now + tonumber(ttl)
  if kind == 'M' then nx = math.min(nx, tonumber(f[7]) + tonumber(max)) end
  if nx > x then
    x, slid = nx, 1
    redis.call('PEXPIREAT', rk, x)
    -- The pointer is KEYS[1] in mode 'd'; one in another bucket (mode 'i') is the caller's to extend.
    if ARGV[2] == 'd' then redis.call('PEXPIREAT', KEYS[1], x) end
    for _, key in ipairs({ k_user(f[1]), k_user_app(f[1], f[2]), k_app(f[2]) }) do extend(key, x, now) end
  end
end
redis.call('HSET', rk, 'la', now, 'lad', ARGV[4], 'si', si, 'x', x)
return { 'ok', id, f[1], f[2], f[3], f[4], x, si, slid }
