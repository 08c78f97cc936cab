-- screen_mode.lua: what the screen shows: the question on screen, or who has the floor and who is next.
--
-- KEYS[1]  meta hash    liveqa:{<slug>}:meta
-- KEYS[2]  log stream   liveqa:{<slug>}:log
-- ARGV[1]  log maxlen
-- ARGV[2]  'question' or 'floor'
--
-- Returns {'ok', log id}, {'ok', ''} when it was so already.
if (redis.call('HGET', KEYS[1], 'screen_mode') or 'question') == ARGV[2] then return {'ok', ''} end
redis.call('HSET', KEYS[1], 'screen_mode', ARGV[2])
return {'ok', append_log(ARGV[1], 'y', ARGV[2], 'a', 'screen_mode')}
