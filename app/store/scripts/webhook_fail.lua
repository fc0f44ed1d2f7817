-- A delivery failed: count the attempt, then schedule a retry (exponential backoff with jitter, at
-- least a Retry-After the receiver asked for), or after the last attempt, or a permanent failure,
-- write a dead letter. A dead delivery stays queued, leased, until the caller has settled its
-- stream entry and forgets it, so a crash in between retries it rather than losing it.
-- KEYS: [1] wq, [2] wb, [3] wa, [4] wd (dead letters by time), [5] wr (dead-letter records)
-- ARGV: [1] tag, [2] member, [3] event id, [4] most attempts, [5] first delay (ms),
--       [6] longest delay (ms), [7] jitter in [0, 1), [8] "1": permanent failure,
--       [9] Retry-After (ms, 0: none), [10] the error, [11] dead letters kept at most,
--       [12] lease of a dead delivery (ms)
-- Returns { attempts, the instant the retry is due } or { attempts, -1 } once dead-lettered.
local member = ARGV[2]
local now = now_ms()
local attempts = redis.call('HINCRBY', KEYS[3], member, 1)
if ARGV[8] ~= '1' and attempts < tonumber(ARGV[4]) then
  local delay = math.min(tonumber(ARGV[6]), tonumber(ARGV[5]) * 2 ^ (attempts - 1))
  delay = math.floor(delay / 2 + delay / 2 * tonumber(ARGV[7]))  -- "equal jitter": half fixed, half random
  local due = now + math.max(delay, tonumber(ARGV[9]))
  redis.call('ZADD', KEYS[1], 'XX', due, member)
  return { attempts, due }
end
local body = redis.call('HGET', KEYS[2], member) or 'null'
local meta = cjson.encode({ eventId = ARGV[3], position = member, attempts = attempts,
  lastError = ARGV[10], deadInstant = now })
redis.call('HSET', KEYS[5], ARGV[3], '{"event":' .. body .. ',' .. string.sub(meta, 2))
redis.call('ZADD', KEYS[4], now, ARGV[3])
local extra = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[11])
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[4], 0, extra - 1)) do
    redis.call('ZREM', KEYS[4], old)
    redis.call('HDEL', KEYS[5], old)
  end
end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[12]), member)
return { attempts, -1 }
