-- Version 2: deletes an owned counter for its owner: value, version, meta hash (settings
-- and keys), history and presence, its name from the set of owned counters, and a
-- `deleted` event for every replica, which closes the counter's sockets (4404). Its dedupe
-- records are removed after this by a scan (they expire by themselves in any case).
--
-- KEYS[1] value, KEYS[2] version, KEYS[3] meta hash, KEYS[4] history stream, KEYS[5]
-- presence hash, KEYS[6] the set of owned counters, on one server only (on a Redis Cluster
-- it lies in another slot; the store removes the name after this script)
-- ARGV[1] hash of the key presented, ARGV[2] name, ARGV[3] events channel, ARGV[4] the
-- publish command ('PUBLISH', or 'SPUBLISH' on a Redis Cluster)
-- Returns {'ok'}, {'not_found'}, {'unauthorized'}, {'forbidden'}, {'damaged', key, why}.

-- Only the owner; the name is never open here (an open counter has no owner to ask).
local refused = refusal(KEYS[3], ARGV[1], '0', 'owner')
if refused then
  return refused
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
if KEYS[6] then
  redis.call('SREM', KEYS[6], ARGV[2])
end
redis.call(ARGV[4], ARGV[3], 'deleted')
return {'ok'}
