-- set_event.lua: change public settings of an event (open for questions, title…) and log the new meta.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- ARGV[1]  log maxlen
-- ARGV[2]  what happened, logged as 'a' (settings, end…)
-- ARGV[3…] field, value pairs
--
-- Returns {'ok', log id}; or {'unknown_event'}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_event', ''} end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {'ok', append_log(ARGV[1], 'e', cjson.encode(redis.call('HGETALL', KEYS[1])), 'a', ARGV[2])}
