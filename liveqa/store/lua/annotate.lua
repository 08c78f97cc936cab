-- annotate.lua: set moderator-owned fields of a question: tags, a written answer, a display text in another
-- language for the room. Logged with the action that made the change.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  question hash  liveqa:{<slug>}:q:<qid>
-- ARGV[1]  log maxlen
-- ARGV[2]  question id
-- ARGV[3]  moderator name
-- ARGV[4]  action (tag, reply, translate, distinct)
-- ARGV[5…] field, value pairs (the caller allows only tags, answer, display, display_lang, similar, similarity)
--
-- Returns {'ok', log id}; or {'unknown_question'}.
if redis.call('EXISTS', KEYS[3]) == 0 then return {'unknown_question', ARGV[2]} end
local now = now_ms()
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'answer' then
    redis.call('HSET', KEYS[3], 'answer_by', ARGV[3], 'answer_at', ARGV[i + 1] ~= '' and now or 0)
  end
end
touch(KEYS[3], ARGV[3], now)
return {'ok', append_log(ARGV[1], 'q', question_json(KEYS[3]), 'a', ARGV[4])}
