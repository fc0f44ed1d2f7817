-- Bury, a small batch at a time, the tokens of an application that its valid-from watermark killed
-- (the members of ak:, which only watermark_app.lua fills): delete their records, their pointers (a
-- one-time token's retired ones too) and their user index entries, so their memory is reclaimed now rather than at their
-- natural expiry. Bounded work per call (a millisecond or two at most). The watermark keeps them
-- dead meanwhile; ab:{t}:<app> counts them, so a later revoke still reports them as previously
-- invalidated. Progress lives in Redis (what is left in ak:), so a cleanup killed midway resumes.
-- KEYS: [1] ak:{t}:<app>, [2] ab:{t}:<app>
-- ARGV: [1] tag, [2] batch size
-- Returns: { members left in ak:, buried }
local now = now_ms()
local buried, latest = 0, 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  redis.call('ZREM', KEYS[1], id)
  local rk = k_record(id)
  local f = read_record(rk, { 'u', 'cd', 'pd', 'rv', 'hn' }, 2)  -- u, x, cd, pd, rv, hn
  if f[1] and not f[5] then
    redis.call('ZREM', k_user(f[1]), id)
    for _, dg in ipairs({ f[3], f[4] }) do
      if dg and redis.call('GET', k_pointer(dg)) == id then redis.call('DEL', k_pointer(dg)) end
    end
    -- a one-time token's retired values kept recognisable (the ring h0.. of exchange.lua, when hn
    -- says it has one; their pointers are in this bucket, but for an imported value found in another
    -- on a single Redis)
    local all = f[6] and redis.call('HGETALL', rk) or {}
    for i = 1, #all, 2 do
      if string.match(all[i], '^h%d+$') then
        local _, pointer = ring_read(all[i + 1])
        if redis.call('GET', pointer) == id then redis.call('DEL', pointer) end
      end
    end
    redis.call('DEL', rk)
    local x = tonumber(f[2])
    if x > now then
      buried = buried + 1
      if x > latest then latest = x end
    end
  end
end
if buried > 0 then
  redis.call('INCRBY', KEYS[2], buried)
  extend(KEYS[2], latest)
end
return { redis.call('ZCARD', KEYS[1]), buried }
