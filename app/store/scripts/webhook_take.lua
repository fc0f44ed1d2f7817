-- Take a webhook's due deliveries, oldest due first, leasing each: its score moves past now (by the
-- margin, plus one delivery's worst time for each taken before it), so no other worker takes it
-- meanwhile, and one that dies holding it loses it to the next worker when the lease runs out.
-- KEYS: [1] wq (queue), [2] wb (event JSON by member), [3] wa (attempts by member)
-- ARGV: [1] tag, [2] most to take, [3] lease margin (ms), [4] one delivery's worst time (ms)
-- Returns { member, event JSON (nil when gone), attempts so far, ... }
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]) + i * tonumber(ARGV[4]), member)
  out[#out + 1] = member
  out[#out + 1] = redis.call('HGET', KEYS[2], member)
  out[#out + 1] = redis.call('HGET', KEYS[3], member) or '0'
end
return out
