-- Bury, a small batch at a time, the tokens revokes of users killed whole in this bucket (kill_user in
-- _lib.lua): each record becomes a tombstone, as a revoke record by record leaves it (rv set, in the
-- user's and application's tombstone indexes until its natural expiry; an expired one is deleted),
-- and leaves the killed index uk:. Oldest kill first. Bounded work per call (a millisecond or two at
-- most). Until then the killed index keeps them dead; a token moves from it to the tombstones in one
-- step, so a later revoke counts it as previously invalidated exactly once. Progress lives in Redis.
-- KEYS: [1] kq:{t} (users awaiting burial, scored by the instant of their kill)
-- ARGV: [1] tag, [2] batch size
-- Returns: { users left in kq:, buried }
local now = now_ms()
local budget = tonumber(ARGV[2])
local buried, dead = 0, {}
while budget > 0 do
  local u = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not u then break end
  local apps = k_user_killed_apps(u)
  for _, a in ipairs(redis.call('HKEYS', apps)) do
    local index = k_user_killed(u, a)
    local ids = redis.call('ZRANGE', index, 0, budget - 1)
    for _, id in ipairs(ids) do
      local rk = k_record(id)
      local f = read_record(rk, REVOKE_FIELDS, 3)
      f[2] = app_of(f[2], rk)
      if f[1] and not f[4] and tombstone(id, rk, f, now, AT_ONCE, dead) then buried = buried + 1 end
    end
    if #ids > 0 then redis.call('ZREM', index, unpack(ids)) end
    budget = budget - #ids
    if redis.call('EXISTS', index) == 0 then
      redis.call('HDEL', apps, a)
      redis.call('SREM', k_app_killed_users(a), u)
    end
    if budget <= 0 then break end
  end
  if redis.call('EXISTS', apps) == 0 then redis.call('ZREM', KEYS[1], u) end
end
bury(dead, now)
return { redis.call('ZCARD', KEYS[1]), buried }
