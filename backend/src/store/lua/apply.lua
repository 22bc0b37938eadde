-- Applies one change atomically: dedupe, INCRBY, version bump, PUBLISH.
--
-- Doing all four in one script is what makes the system correct: the dedupe check and the
-- change cannot be split by another replica's retry, and PUBLISH happens in apply order, so
-- subscribers never receive states out of order.
--
-- KEYS[1] value key, KEYS[2] version key, KEYS[3] op_id record key (absent: no dedupe)
-- ARGV[1] signed delta, ARGV[2] op record expiry in seconds, ARGV[3] channel, ARGV[4] name
-- Returns {'ok', value, version}, {'dup', value, version}, {'overflow'} or {'not_integer'}.
-- Values and versions travel as strings: Lua numbers are doubles and would round
-- anything beyond 2^53. `publish_state` is defined in publish_state.lua, loaded before this.

local op_key = KEYS[3]
if op_key then
  local record = redis.call('GET', op_key)
  if record then
    local sep = string.find(record, ':', 1, true)
    return {'dup', string.sub(record, 1, sep - 1), string.sub(record, sep + 1)}
  end
end

-- Nothing may be written before every check has passed: Redis does not roll a script back,
-- so a failure halfway would leave a change without its version, record or PUBLISH. A
-- version key damaged by hand is refused here, before INCRBY.
local version_now = redis.call('GET', KEYS[2])
if version_now and not string.match(version_now, '^%d+$') then
  return {'not_integer'}
end

-- INCRBY refuses, and changes nothing, when the result would leave the 64-bit range or the
-- stored value is not an integer.
local applied = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(applied) == 'table' and applied.err then
  if string.find(applied.err, 'overflow', 1, true) then
    return {'overflow'}
  end
  return {'not_integer'}
end

local value = redis.call('GET', KEYS[1])
redis.call('INCR', KEYS[2])
local version = redis.call('GET', KEYS[2])
if op_key then
  redis.call('SET', op_key, value .. ':' .. version, 'EX', ARGV[2])
end
publish_state(ARGV[3], ARGV[4], value, version)
return {'ok', value, version}
