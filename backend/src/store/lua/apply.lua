-- Applies one change atomically: access, dedupe, the change, version bump, history entry,
-- PUBLISH (SPUBLISH on a Redis Cluster).
--
-- Doing it all in one script is what makes the system correct: the dedupe check and the
-- change cannot be split by another replica's retry; PUBLISH happens in apply order, so
-- subscribers never receive states out of order; the key is checked against the counter's
-- key hashes in the same step, so once a rotation has been answered no change made with the
-- old key is applied; and the history holds exactly the changes that were made.
--
-- KEYS[1] value, KEYS[2] version, KEYS[3] meta hash, KEYS[4] history stream,
-- KEYS[5] this change's op record (when ARGV[12] is '1'), and for an undo, last, the op
-- record of the change it undoes.
-- ARGV[1] signed delta (increment, decrement), ARGV[2] op record expiry in seconds,
-- ARGV[3] channel, ARGV[4] name, ARGV[5] '1' when the name is open, ARGV[6] hash of the
-- key presented ('' for none), ARGV[7] kind ('increment', 'decrement', 'set', 'undo'),
-- ARGV[8] the value to set (set), ARGV[9] history entries kept, ARGV[10] op_id ('' for
-- none), ARGV[11] label ('' for none), ARGV[12] '1' when KEYS[5] is this change's op record,
-- ARGV[13] the publish command ('PUBLISH', or 'SPUBLISH' on a Redis Cluster).
-- Returns {'ok', value, version}, {'dup', value, version}, {'overflow'}, {'not_found'},
-- {'unauthorized'}, {'forbidden'}, {'unknown_op'}, {'conflict', why},
-- {'damaged', key, why}, or Redis's error when it refuses to write now.
-- `publish_state` is defined in publish_state.lua and the readers in stored.lua, both loaded
-- before this.

local kind = ARGV[7]
local refused = refusal(KEYS[3], ARGV[6], ARGV[5], kind == 'set' and 'owner' or 'staff')
if refused then
  return refused
end

local op_key = ARGV[12] == '1' and KEYS[5] or nil
if op_key then
  local record, failed = read_op_record(op_key)
  if failed then
    return failed
  end
  if record then
    return {'dup', record.value, record.version}
  end
end

local undone_key, undone
if kind == 'undo' then
  undone_key = KEYS[#KEYS]
  local failed
  undone, failed = read_op_record(undone_key)
  if failed then
    return failed
  end
  if not undone then
    return {'unknown_op'}
  end
  if undone.flag == 'u' then
    return {'conflict', 'that change was undone already'}
  end
  if undone.flag ~= 'c' then
    return {'conflict', 'only an increment or a decrement can be undone'}
  end
end

-- Nothing may be written before every check has passed: Redis does not roll a script back,
-- so a failure halfway would leave a change without its version, record, history entry or
-- PUBLISH, and the client's retry would count it again.
local value_now, version_now, failed = read_state(KEYS[1], KEYS[2])
if failed then
  return failed
end
if version_now == MAX_VERSION then
  return damaged(KEYS[2], 'holds the highest version, which cannot advance')
end
failed = check_type(KEYS[4], 'stream')
if failed then
  return failed
end

local delta
if kind == 'undo' then
  delta = string.sub(undone.delta, 1, 1) == '-' and string.sub(undone.delta, 2) or '-' .. undone.delta
elseif kind == 'set' then
  -- Both within 2^53 (the set value is bounded by the server), which a Lua number holds.
  delta = string.format('%.0f', tonumber(ARGV[8]) - tonumber(value_now))
else
  delta = ARGV[1]
end

-- The first write. The value is an integer (checked above), so INCRBY refuses, changing
-- nothing, only when the result would leave the 64-bit range, or when Redis refuses every
-- write now: OOM (maxmemory), READONLY (a replica, as during a failover), MISCONF (a failed
-- save), NOREPLICAS (min-replicas-to-write). Those are Redis's answer, not this counter's
-- fault: they are passed on as the script's error, which the replica answers `unavailable`.
-- Once one write has succeeded Redis refuses none of the rest of the script (it checks
-- memory only before the first write, and the other states cannot change while a script
-- runs), and the checks above leave the rest nothing to fail on.
local applied
if kind == 'set' then
  applied = redis.pcall('SET', KEYS[1], ARGV[8])
else
  applied = redis.pcall('INCRBY', KEYS[1], delta)
end
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
  local flag = (kind == 'increment' or kind == 'decrement') and 'c' or 'x'
  redis.call('SET', op_key, value .. ':' .. version .. ':' .. delta .. ':' .. flag, 'EX', ARGV[2])
end
if undone_key then
  -- Marked, keeping its expiry and the answer a retry of the undone change still gets.
  redis.call('SET', undone_key, undone.value .. ':' .. undone.version .. ':' .. undone.delta .. ':u',
    'KEEPTTL')
end
-- The history entry: its stream ID holds the server's time in milliseconds.
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*', 'k', kind, 'd', delta, 'v', value,
  'n', version, 'o', ARGV[10], 'l', ARGV[11])
publish_state(ARGV[13], ARGV[3], ARGV[4], value, version)
return {'ok', value, version}
