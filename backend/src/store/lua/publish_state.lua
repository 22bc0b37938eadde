-- Publishes a counter's state on its channel as the JSON of `shared::CounterState`, which
-- every replica's subscriber decodes. apply.lua and reconcile.lua both begin with this file
-- (redis.rs joins them when it loads the scripts), so the two publishers build one message.
-- Values and versions arrive as the strings Redis stored; the name is a valid counter name,
-- which needs no JSON escaping. `publish` is the command the store chose: 'PUBLISH' on one
-- server, 'SPUBLISH' on a Redis Cluster, where the channel (hash-tagged like the counter's
-- keys) lies in the script's slot, as Redis 7 requires of a shard channel in a script.

local function publish_state(publish, channel, name, value, version)
  redis.call(publish, channel,
    '{"name":"' .. name .. '","value":' .. value .. ',"version":' .. version .. '}')
end

