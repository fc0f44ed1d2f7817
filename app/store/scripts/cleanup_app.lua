-- Bury, a small batch at a time, the tokens of an application that its valid-from watermark
-- killed: tombstone them and drop them from every index. Bounded work per call (a few ms at most).
-- KEYS: [1] a:{t}:<app>
-- ARGV: [1] tag, [2] ZSCAN cursor ('0' to start), [3] batch size
-- Returns: { next cursor ('0' when the index has been walked once), buried }
local now = now_ms()
local scan = redis.call('ZSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local dead, buried = {}, 0
local members = scan[2]
for i = 1, #members, 2 do
  local id = members[i]
  local f = redis.call('HMGET', k_record(id), 'u', 'a', 'tn', 'ii')
  if not f[1] then
    redis.call('ZREM', KEYS[1], id)
  elseif tonumber(f[4]) <= valid_from(f[1], f[2], f[3]) then
    revoke_record(id, now, dead)
    buried = buried + 1
  end
end
bury(dead, now)
return { scan[1], buried }
