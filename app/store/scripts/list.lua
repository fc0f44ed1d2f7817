-- List live tokens of one index, newest first, from a cursor; drops ids whose record expired.
-- KEYS: [1] the live index (u: or ua: of this tag)
-- ARGV: [1] tag, [2] limit, [3] cursor insert instant ('' = from the newest), [4] cursor id,
--       [5] tenant id ('' = any)
-- Returns: { more (0|1), then per token: id, u, a, tn, ii, si, x, la, lad, m }
-- Cursor: tokens strictly older than (instant, id) in the order (insert instant desc, id desc).
local now = now_ms()
local limit, tenant = tonumber(ARGV[2]), ARGV[5]
local max = '+inf'
if ARGV[3] ~= '' then max = ARGV[3] end
local out, found, offset = { 0 }, 0, 0
local froms = {}
local function killed(f)
  local scope = f[1] .. ':' .. f[2]
  if not froms[scope] then froms[scope] = valid_from(f[1], f[2]) end
  return tonumber(f[4]) <= froms[scope]
end
while true do
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT', offset, 200)
  if #page == 0 then break end
  offset = offset + #page / 2
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if not (ARGV[3] ~= '' and tonumber(score) == tonumber(ARGV[3]) and id >= ARGV[4]) then
      local f = redis.call('HMGET', k_record(id), 'u', 'a', 'tn', 'ii', 'si', 'x', 'la', 'lad', 'm', 'rv')
      if not f[1] or tonumber(f[6]) <= now then
        redis.call('ZREM', KEYS[1], id)
        offset = offset - 1
      elseif not f[10] and (tenant == '' or f[3] == tenant) and not killed(f) then
        if found == limit then
          out[1] = 1
          return out
        end
        found = found + 1
        out[#out + 1] = id
        for j = 1, 9 do out[#out + 1] = f[j] or '' end
      end
    end
  end
end
return out
