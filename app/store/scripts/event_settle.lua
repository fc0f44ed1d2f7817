-- Webhooks are done with a stream entry (delivered, or dead-lettered): acknowledge the entry in the
-- webhook group once no webhook is left to deliver it. Idempotent.
-- KEYS: [1] ev:{t}, [2] wo:{t}:<entryId>
-- ARGV: [1] tag, [2] group, [3] entry id, [4..] the webhooks done with it
-- Returns how many webhooks still have to deliver it (0: acknowledged).
redis.call('SREM', KEYS[2], unpack(ARGV, 4))
local left = redis.call('SCARD', KEYS[2])
if left == 0 then
  redis.call('XACK', KEYS[1], ARGV[2], ARGV[3])
end
return left
