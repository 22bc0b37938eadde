-- Reading a counter's keys as DESIGN.md's layout says they are. apply.lua and reconcile.lua
-- begin with this file (redis.rs joins them), so both judge a key the same way. A key that
-- holds anything else was written by hand: it is reported as damaged, naming the key, and
-- the script returns before its first write. Values and versions stay strings: Lua numbers
-- are doubles, which round integers beyond 2^53.

-- The highest version a counter may reach: shared's `CounterState::MAX_VERSION`, 2^53 - 1
-- (why this bound is written there; a test in redis.rs holds the two equal).
local MAX_VERSION = '9007199254740991'

-- Whether the digits `digits` (no sign, no leading zero) are at most `max`. Equal lengths
-- compare as text exactly as they compare as numbers.
local function at_most(digits, max)
  return #digits < #max or (#digits == #max and digits <= max)
end

-- Whether `text` is a 64-bit signed integer written as Redis writes one: no '+', no leading
-- zero, no '-0'. It is exactly what INCRBY accepts.
local function is_value(text)
  if text == '0' then
    return true
  end
  local sign, digits = string.match(text, '^(-?)([1-9]%d*)$')
  if not digits then
    return false
  end
  return at_most(digits, sign == '-' and '9223372036854775808' or '9223372036854775807')
end

-- Whether `text` is a version: 0 to MAX_VERSION, written as INCR writes it. `007`, `-1` and
-- anything past MAX_VERSION are not.
local function is_version(text)
  return text == '0' or (string.match(text, '^[1-9]%d*$') ~= nil and at_most(text, MAX_VERSION))
end

-- The reply that reports a damaged key: {'damaged', key, what is wrong with it}.
local function damaged(key, why)
  return {'damaged', key, why}
end

-- GETs a key that must hold a string; `missing` when it does not exist. A second result is
-- the reply to return instead: damage for a key of another type (WRONGTYPE), or Redis's own
-- error for anything else (then not this counter's fault, and answered `unavailable`).
local function get(key, missing)
  local stored = redis.pcall('GET', key)
  if type(stored) == 'table' and stored.err then
    if string.sub(stored.err, 1, 9) == 'WRONGTYPE' then
      return nil, damaged(key, 'holds another type than a string')
    end
    return nil, stored
  end
  return stored or missing
end

-- The value a counter's value key holds ('0' when missing), or the reply to return instead.
local function read_value(key)
  local value, failed = get(key, '0')
  if failed then
    return nil, failed
  end
  if not is_value(value) then
    return nil, damaged(key, 'does not hold a 64-bit integer')
  end
  return value
end

-- The version a counter's version key holds ('0' when missing), or the reply to return
-- instead.
local function read_version(key)
  local version, failed = get(key, '0')
  if failed then
    return nil, failed
  end
  if not is_version(version) then
    return nil, damaged(key, 'does not hold a version from 0 to ' .. MAX_VERSION)
  end
  return version
end

