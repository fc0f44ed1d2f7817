-- Record which webhooks must receive a stream entry before the webhook group may acknowledge it.
-- KEYS: [1] wo:{t}:<entryId>
-- ARGV: [1] tag, [2] how long the record may live (ms), [3..] the webhooks the entry matches now
-- Returns the webhooks outstanding for the entry: the stored set when there is one already (the
-- entry was fanned out before and is seen again: redelivered after a crash, or claimed from a stuck
-- worker; webhooks done with it have left the set), else the given ids, now stored.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('SMEMBERS', KEYS[1])
end
if #ARGV > 2 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 3))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return { unpack(ARGV, 3) }
