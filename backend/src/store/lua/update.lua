-- Version 2: changes an owned counter's meta hash (settings, or a key hash on rotation) for
-- its owner, bumps its revision and tells every replica (`meta` on the events channel).
-- The change scripts read the key hashes in their own atomic step, so from the moment this
-- has run no change made with a replaced key is applied, on any replica.
--
-- KEYS[1] meta hash
-- ARGV[1] hash of the key presented, ARGV[2] the revision the caller read ('' any),
-- ARGV[3] events channel, ARGV[4] the publish command ('PUBLISH', or 'SPUBLISH' on a Redis
-- Cluster), ARGV[5] n, then n field/value pairs to set, then fields to remove.
-- Returns {'ok', rev}, {'not_found'}, {'unauthorized'}, {'forbidden'}, {'stale'} (the meta
-- changed since the caller read it: read again), {'damaged', key, why}, or Redis's error.

-- Only the owner; the name is never open here (an open counter has no owner to ask).
local refused = refusal(KEYS[1], ARGV[1], '0', 'owner')
if refused then
  return refused
end
local rev_now = redis.call('HGET', KEYS[1], 'rev')
if ARGV[2] ~= '' and rev_now ~= ARGV[2] then
  return {'stale'}
end
local rev = next_rev(rev_now)
local fields = {'rev', rev}
local n = tonumber(ARGV[5])
for i = 6, 5 + 2 * n do
  table.insert(fields, ARGV[i])
end
local written = redis.pcall('HSET', KEYS[1], unpack(fields))
if type(written) == 'table' and written.err then
  return written
end
for i = 6 + 2 * n, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
end
redis.call(ARGV[4], ARGV[3], 'meta')
return {'ok', rev}
