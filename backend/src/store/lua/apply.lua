-- Applies one change atomically: dedupe, INCRBY, version bump, PUBLISH.
--
-- Doing all four in one script is what makes the system correct: the dedupe check and the
-- change cannot be split by another replica's retry, and PUBLISH happens in apply order, so
-- subscribers never receive states out of order.
--
-- KEYS[1] value key, KEYS[2] version key, KEYS[3] op_id record key (absent: no dedupe)
-- ARGV[1] signed delta, ARGV[2] op record expiry in seconds, ARGV[3] channel, ARGV[4] name
-- Returns {'ok', value, version}, {'dup', value, version}, {'overflow'},
-- {'damaged', key, why}, or Redis's error when it refuses to write now.
-- `publish_state` is defined in publish_state.lua and the readers in stored.lua, both loaded
-- before this.

local op_key = KEYS[3]
if op_key then
  local record, failed = get(op_key, nil)
  if failed then
    return failed
  end
  if record then
    local value, version = string.match(record, '^(.*):(.*)$')
    if not (value and is_value(value) and is_version(version)) then
      return damaged(op_key, 'is not a value:version record')
    end
    return {'dup', value, version}
  end
end

-- Nothing may be written before every check has passed: Redis does not roll a script back,
-- so a failure halfway would leave a change without its version, record or PUBLISH, and
-- the client's retry would count it again.
local _, failed = read_value(KEYS[1])
if failed then
  return failed
end
local version_now
version_now, failed = read_version(KEYS[2])
if failed then
  return failed
end
if version_now == MAX_VERSION then
  return damaged(KEYS[2], 'holds the highest version, which cannot advance')
end

-- The first write. The value is an integer (checked above), so INCRBY refuses, changing
-- nothing, only when the result would leave the 64-bit range, or when Redis refuses every
-- write now: OOM (maxmemory), READONLY (a replica, as during a failover), MISCONF (a failed
-- save), NOREPLICAS (min-replicas-to-write). Those are Redis's answer, not this counter's
-- fault: they are passed on as the script's error, which the replica answers `unavailable`.
-- Once one write has succeeded Redis refuses none of the rest of the script (it checks
-- memory only before the first write, and the other states cannot change while a script
-- runs), and the checks above leave the rest nothing to fail on.
local applied = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(applied) == 'table' and applied.err then
  if string.find(applied.err, 'overflow', 1, true) then
    return {'overflow'}
  end
  return applied
end

local value = redis.call('GET', KEYS[1])
redis.call('INCR', KEYS[2])
local version = redis.call('GET', KEYS[2])
if op_key then
  redis.call('SET', op_key, value .. ':' .. version, 'EX', ARGV[2])
end
publish_state(ARGV[3], ARGV[4], value, version)
return {'ok', value, version}
