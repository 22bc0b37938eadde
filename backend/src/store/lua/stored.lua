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

-- What `key` holds ('0' when missing) if `valid` accepts it, or the reply to return instead:
-- damage saying `why` when it does not.
local function read(key, valid, why)
  local text, failed = get(key, '0')
  if failed then
    return nil, failed
  end
  if not valid(text) then
    return nil, damaged(key, why)
  end
  return text
end

-- A counter's value and version (each '0' when missing), or nil and the reply to return
-- instead. Both change scripts read a counter through this before their first write.
local function read_state(value_key, version_key)
  local value, failed = read(value_key, is_value, 'does not hold a 64-bit integer')
  if failed then
    return nil, nil, failed
  end
  local version
  version, failed = read(version_key, is_version,
    'does not hold a version from 0 to ' .. MAX_VERSION)
  if failed then
    return nil, nil, failed
  end
  return value, version
end


-- Version 2. A dedupe record: 'value:version' (version 1), or 'value:version:delta:flag'
-- where flag says whether the change can be undone: 'c' (an increment or decrement), 'u'
-- (undone already), 'x' (a set or an undo, which are not undone). Returns the record's
-- parts, nil when the key is missing, or nil and the reply to return instead.
local function read_op_record(key)
  local record, failed = get(key, nil)
  if failed then
    return nil, failed
  end
  if not record then
    return nil
  end
  local value, version, rest = string.match(record, '^([^:]*):([^:]*)(.*)$')
  local delta, flag = '', ''
  if rest and rest ~= '' then
    delta, flag = string.match(rest, '^:(%-?[1-9]%d*):([cux])$')
  end
  if not (value and is_value(value) and is_version(version) and delta) then
    return nil, damaged(key, 'is not a value:version record')
  end
  return {value = value, version = version, delta = delta, flag = flag}
end

-- The role a key hash gives on a counter, from its meta hash: 'owner', 'staff', 'viewer',
-- or 'none' when there is no meta hash (the counter is not owned). Or nil and the reply to
-- return instead. Comparing hashes of random keys leaks nothing a timing could use.
local function read_role(meta_key, key_hash)
  local kind = redis.call('TYPE', meta_key)['ok']
  if kind == 'none' then
    return 'none'
  end
  if kind ~= 'hash' then
    return nil, damaged(meta_key, 'holds another type than a hash')
  end
  local hashes = redis.call('HMGET', meta_key, 'owner', 'staff')
  if key_hash ~= '' and hashes[1] == key_hash then
    return 'owner'
  end
  if key_hash ~= '' and hashes[2] == key_hash then
    return 'staff'
  end
  return 'viewer'
end

-- The refusal of an operation that needs role `need` ('staff' or 'owner') with this key,
-- or nil when it may go ahead. `open` is '1' when the name is open by configuration: then
-- a counter without an owner takes changes from anyone, and has no owner to do the rest.
local function refusal(meta_key, key_hash, open, need)
  local role, failed = read_role(meta_key, key_hash)
  if failed then
    return failed
  end
  if role == 'none' then
    if open ~= '1' then
      return {'not_found'}
    end
    if need == 'owner' then
      return {'forbidden'}
    end
    return nil
  end
  if role == 'viewer' then
    return {'unauthorized'}
  end
  if role == 'staff' and need == 'owner' then
    return {'forbidden'}
  end
  return nil
end

-- Damage when `key` exists with another type than `kind` ('stream', 'set'), else nil.
local function check_type(key, kind)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= kind then
    return damaged(key, 'holds another type than a ' .. kind)
  end
  return nil
end

-- A new revision of an owned counter's meta: the server's time in microseconds, above
-- `previous` ('' or a revision) in any case, so replicas can keep the newest they hear of.
local function next_rev(previous)
  local now = redis.call('TIME')
  local rev = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local before = tonumber(previous or '') or 0
  if rev <= before then
    rev = before + 1
  end
  return string.format('%.0f', rev)
end
