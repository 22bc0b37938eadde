-- Re-reads one counter and repairs its version when the value moved behind the service's
-- back, so that every replica and every client converges on the store's value.
--
-- Two cases need a repair, both detected against the newest state this replica knows:
-- the same version with another value (an operator ran `SET counter:global 100`), and a
-- lower version (Redis lost its data). The version is then moved past the known one and the
-- state published, so clients, who only accept newer versions, take the store's value.
--
-- KEYS[1] value key, KEYS[2] version key
-- ARGV[1] known value ('' when this replica knows none), ARGV[2] known version,
-- ARGV[3] channel, ARGV[4] name
-- Returns {value, version} as strings, or an error when the value is not an integer.
-- `publish_state` is defined in publish_state.lua, loaded before this.

local value = redis.call('GET', KEYS[1]) or '0'
local version = redis.call('GET', KEYS[2]) or '0'
if not string.match(value, '^-?%d+$') or not string.match(version, '^%d+$') then
  return redis.error_reply('the value of ' .. ARGV[4] .. ' is not an integer')
end
if ARGV[1] ~= '' then
  local known = tonumber(ARGV[2])
  local current = tonumber(version)
  if current < known or (current == known and value ~= ARGV[1]) then
    redis.call('SET', KEYS[2], ARGV[2])
    redis.call('INCR', KEYS[2])
    version = redis.call('GET', KEYS[2])
    publish_state(ARGV[3], ARGV[4], value, version)
  end
end
return {value, version}
