-- Re-reads one counter and repairs its version when the value moved behind the service's
-- back, so that every replica and every client converges on the store's value.
--
-- Two cases need a repair, both detected against the newest state this replica knows:
-- the same version with another value (an operator ran `SET counter:global 100`), and a
-- lower version (Redis lost its data). The version is then moved past the known one and the
-- state published, so clients, who only accept newer versions, take the store's value.
--
-- KEYS[1] value key, KEYS[2] version key, KEYS[3] meta hash
-- ARGV[1] known value ('' when this replica knows none), ARGV[2] known version,
-- ARGV[3] channel, ARGV[4] name, ARGV[5] '1' when this replica knows the counter as owned,
-- ARGV[6] the publish command ('PUBLISH', or 'SPUBLISH' on a Redis Cluster)
-- Returns {'ok', value, version}, {'gone'} (an owned counter that was deleted: nothing is
-- repaired, which would bring a deleted counter's keys back), {'damaged', key, why}, or
-- Redis's error when it refuses a repair. `publish_state` is defined in publish_state.lua and the readers in stored.lua,
-- both loaded before this.

if ARGV[5] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then
  return {'gone'}
end
local value, version, failed = read_state(KEYS[1], KEYS[2])
if failed then
  return failed
end
local known_value, known = ARGV[1], ARGV[2]
-- Only a known state that a repair can move past is repaired towards: a version out of
-- range is never written into Redis, whatever this replica was told.
if known_value ~= '' and is_version(known) and known ~= MAX_VERSION then
  -- Both are at most 2^53 - 1, which a Lua number holds exactly.
  local behind = tonumber(version) < tonumber(known)
  if behind or (version == known and value ~= known_value) then
    -- The first write: if Redis refuses it (OOM, READONLY, …) nothing was written, and
    -- after it Redis refuses nothing.
    redis.call('SET', KEYS[2], known)
    redis.call('INCR', KEYS[2])
    version = redis.call('GET', KEYS[2])
    publish_state(ARGV[6], ARGV[3], ARGV[4], value, version)
  end
end
return {'ok', value, version}
