-- Version 2: creates an owned counter: its meta hash (settings and key hashes), its name in
-- the set that --max-counters bounds, and a `meta` event for every replica.
--
-- KEYS[1] value, KEYS[2] version, KEYS[3] meta hash, KEYS[4] history stream, KEYS[5] the
-- set of owned counters
-- ARGV[1] name, ARGV[2] most owned counters, ARGV[3] owner key hash, ARGV[4] staff key
-- hash, ARGV[5] title ('' none), ARGV[6] capacity ('' none), ARGV[7] events channel
-- Returns {'ok', rev}, {'name_taken'}, {'limit_reached'}, {'damaged', key, why}, or Redis's
-- error when it refuses to write now. The helpers are in stored.lua, loaded before this.

-- A name with any data is taken: an open counter that was used, or an owned one.
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) > 0 then
  return {'name_taken'}
end
local failed = check_type(KEYS[5], 'set')
if failed then
  return failed
end
if redis.call('SCARD', KEYS[5]) >= tonumber(ARGV[2]) then
  return {'limit_reached'}
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
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('PUBLISH', ARGV[7], 'meta')
return {'ok', rev}
