-- Redis Cluster only: takes a place for a new owned counter in the set that --max-counters
-- bounds, before create.lua runs. On a cluster the set lies in a slot of its own, apart from
-- the counter's keys, so one script cannot check the bound and create the counter; checking
-- and adding here in one step means concurrent creates never take more places than the
-- bound allows (store/redis/owned.rs gives a place back when the create is refused).
--
-- KEYS[1] the set of owned counters
-- ARGV[1] name, ARGV[2] most owned counters
-- Returns {'added'}, {'member'} (the name is in the set already: its counter exists, or
-- another create of it is under way), {'limit_reached'}, {'damaged', key, why}, or Redis's
-- error when it refuses to write now. The helpers are in stored.lua, loaded before this.

local failed = check_type(KEYS[1], 'set')
if failed then
  return failed
end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return {'member'}
end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return {'limit_reached'}
end
redis.call('SADD', KEYS[1], ARGV[1])
return {'added'}
