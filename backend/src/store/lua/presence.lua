-- Records how many sockets this replica holds on one counter. Each replica owns one field of
-- a hash, holding 'count:expires_at_ms'; a replica that dies stops refreshing its field, and
-- the next replica to record on the counter deletes it once it has expired. The total over
-- the live fields is read with HGETALL (store/redis/batch.rs), once a second, without a
-- script; this runs only when a count changes or is due for a refresh.
--
-- KEYS[1] presence hash
-- ARGV[1] replica id, ARGV[2] sockets on this replica, ARGV[3] field lifetime in ms
-- Returns the number of live fields left.

local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ttl = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now_ms + ttl))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local live = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local record = fields[i + 1]
  local sep = string.find(record, ':', 1, true)
  local expires = sep and tonumber(string.sub(record, sep + 1))
  if expires and expires >= now_ms then
    live = live + 1
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if live > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return live
