-- announce.lua: a short announcement from the moderators to every participant ("questions on item 2 now").
-- The last few are kept in the meta hash so that newcomers see them.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta   (field 'announcements': JSON list, newest last)
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- ARGV[1]  log maxlen
-- ARGV[2]  text
-- ARGV[3]  moderator name
-- ARGV[4]  how many to keep
--
-- Returns {'ok', log id}.
local kept = {}
local stored = redis.call('HGET', KEYS[1], 'announcements')
if stored and stored ~= '' and stored ~= '{}' then kept = cjson.decode(stored) end
local item = {text = ARGV[2], by = ARGV[3], at = now_ms()}
kept[#kept + 1] = item
while #kept > tonumber(ARGV[4]) do table.remove(kept, 1) end
redis.call('HSET', KEYS[1], 'announcements', cjson.encode(kept))
return {'ok', append_log(ARGV[1], 'n', cjson.encode(item))}
