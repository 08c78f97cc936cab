-- ban.lua: bar a participant from submitting and voting in an event, or lift the ban. Logged for moderators.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  banned set     liveqa:{<slug>}:banned
-- ARGV[1]  log maxlen
-- ARGV[2]  participant id
-- ARGV[3]  '1' to ban, '0' to lift
--
-- Returns {'ok', log id}, {'ok', ''} when nothing changed.
local changed
if ARGV[3] == '1' then
  changed = redis.call('SADD', KEYS[3], ARGV[2])
else
  changed = redis.call('SREM', KEYS[3], ARGV[2])
end
if changed == 0 then return {'ok', ''} end
local banned = redis.call('SMEMBERS', KEYS[3])
table.sort(banned)
local encoded = '[]'
if #banned > 0 then encoded = cjson.encode(banned) end
return {'ok', append_log(ARGV[1], 'b', encoded)}
