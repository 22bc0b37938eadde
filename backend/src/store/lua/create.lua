-- Version 2: creates an owned counter: its meta hash (settings and key hashes), its name in
-- the set that --max-counters bounds, and a `meta` event for every replica.
--
-- KEYS[1] value, KEYS[2] version, KEYS[3] meta hash, KEYS[4] history stream, KEYS[5] the
-- set of owned counters, on one server only: on a Redis Cluster that set lies in another
-- slot, and the store keeps it outside this script (store/redis/owned.rs).
-- ARGV[1] name, ARGV[2] most owned counters, ARGV[3] owner key hash, ARGV[4] staff key
-- hash, ARGV[5] title ('' none), ARGV[6] capacity ('' none), ARGV[7] events channel,
-- ARGV[8] the publish command ('PUBLISH', or 'SPUBLISH' on a Redis Cluster)
-- Returns {'ok', rev}, {'name_taken'}, {'limit_reached'}, {'damaged', key, why}, or Redis's
-- error when it refuses to write now. The helpers are in stored.lua, loaded before this.

-- A name with any data is taken: an open counter that was used, or an owned one.
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) > 0 then
  return {'name_taken'}
end
local owned = KEYS[5]
if owned then
  local failed = check_type(owned, 'set')
  if failed then
    return failed
  end
  if redis.call('SCARD', owned) >= tonumber(ARGV[2]) then
    return {'limit_reached'}
  end
end
local rev = next_rev('')
local fields = {'owner', ARGV[3], 'staff', ARGV[4], 'rev', rev}
if ARGV[5] ~= '' then
  table.insert(fields, 'title')
  table.insert(fields, ARGV[5])
end
if ARGV[6] ~= '' then
  table.insert(fields, 'capacity')
  table.insert(fields, ARGV[6])
end
-- The first write: if Redis refuses it, nothing was written.
local written = redis.pcall('HSET', KEYS[3], unpack(fields))
if type(written) == 'table' and written.err then
  return written
end
if owned then
  redis.call('SADD', owned, ARGV[1])
end
redis.call(ARGV[8], ARGV[7], 'meta')
return {'ok', rev}
