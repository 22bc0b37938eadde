-- Publishes a counter's state on its channel as the JSON of `shared::CounterState`, which
-- every replica's subscriber decodes. apply.lua and reconcile.lua both begin with this file
-- (redis.rs joins them when it loads the scripts), so the two publishers build one message.
-- Values and versions arrive as the strings Redis stored; the name is a valid counter name,
-- which needs no JSON escaping.

local function publish_state(channel, name, value, version)
  redis.call('PUBLISH', channel,
    '{"name":"' .. name .. '","value":' .. value .. ',"version":' .. version .. '}')
end

