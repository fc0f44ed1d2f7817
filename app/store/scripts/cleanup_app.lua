-- Bury, a small batch at a time, the tokens of an application that a valid-from watermark killed:
-- delete their records, their pointers in this bucket and their index entries, so their memory is
-- reclaimed now rather than at their natural expiry. Bounded work per call (a few ms at most).
-- The watermark keeps them dead meanwhile; ab:{t}:<app> counts them, so a later revoke still
-- reports them as previously invalidated (until the watermark itself expires).
-- KEYS: [1] a:{t}:<app>
-- ARGV: [1] tag, [2] ZSCAN cursor ('0' to start), [3] batch size
-- Returns: { next cursor ('0' when the index has been walked once), buried }
local now = now_ms()
local scan = redis.call('ZSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local buried, latest = 0, 0
local members = scan[2]
local app
for i = 1, #members, 2 do
  local id = members[i]
  local rk = k_record(id)
  local f = redis.call('HMGET', rk, 'u', 'a', 'tn', 'ii', 'x', 'cd', 'pd')
  if not f[1] then
    redis.call('ZREM', KEYS[1], id)
  else
    local from, app_from = valid_from(f[1], f[2], f[3])
    if tonumber(f[4]) <= from then
      app = f[2]
      redis.call('ZREM', k_user(f[1]), id)
      redis.call('ZREM', k_user_app(f[1], f[2]), id)
      redis.call('ZREM', KEYS[1], id)
      if tonumber(f[4]) <= app_from and redis.call('DECR', k_app_pending(f[2])) <= 0 then
        redis.call('DEL', k_app_pending(f[2]))
      end
      for _, dg in ipairs({ f[6], f[7] }) do
        if dg and redis.call('GET', k_pointer(dg)) == id then redis.call('DEL', k_pointer(dg)) end
      end
      redis.call('DEL', rk)
      buried = buried + 1
      if tonumber(f[5]) > latest then latest = tonumber(f[5]) end
    end
  end
end
if buried > 0 then
  local counter = 'ab:' .. TAG .. ':' .. app
  redis.call('INCRBY', counter, buried)
  extend(counter, math.max(latest, now + 1), now)
end
return { scan[1], buried }
