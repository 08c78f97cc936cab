-- tag.lua: replace a question's tags.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  question hash  liveqa:{<slug>}:q:<qid>
-- ARGV[1]  log maxlen
-- ARGV[2]  question id
-- ARGV[3]  moderator name
-- ARGV[4]  tags as a JSON array
--
-- Returns {'ok', log id}; or {'unknown_question'}.
if redis.call('EXISTS', KEYS[3]) == 0 then return {'unknown_question', ARGV[2]} end
redis.call('HSET', KEYS[3], 'tags', ARGV[4])
touch(KEYS[3], ARGV[3], now_ms())
return {'ok', append_log(ARGV[1], 'q', question_json(KEYS[3]))}
