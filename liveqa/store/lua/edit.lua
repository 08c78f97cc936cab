-- edit.lua: change a question's text: by its asker while allowed, or by a moderator (who keeps the original).
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  question hash  liveqa:{<slug>}:q:<qid>
-- ARGV[1]  log maxlen
-- ARGV[2]  question id
-- ARGV[3]  who acts: moderator name, or '' for the asker
-- ARGV[4]  owner: when not '', only this participant may edit (the asker)
-- ARGV[5]  new text (already normalised)
-- ARGV[6]  expected rev, or '0' for any
-- ARGV[7]  statuses in which this actor may edit (comma-separated)
--
-- Returns {'ok', log id}; or {'unknown_question'}, {'not_yours'}, {'bad_transition'}, {'conflict', rev}.
local status = redis.call('HGET', KEYS[3], 'status')
if not status then return {'unknown_question', ARGV[2]} end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[3], 'pid') ~= ARGV[4] then return {'not_yours', ARGV[2]} end
if not member_of(ARGV[7], status) then return {'bad_transition', 'cannot edit a ' .. status .. ' question'} end
local rev = redis.call('HGET', KEYS[3], 'rev')
if ARGV[6] ~= '0' and ARGV[6] ~= rev then return {'conflict', rev} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[3], 'original') == false then
  redis.call('HSET', KEYS[3], 'original', redis.call('HGET', KEYS[3], 'text'))
end
redis.call('HSET', KEYS[3], 'text', ARGV[5])
touch(KEYS[3], ARGV[3], now_ms())
return {'ok', append_log(ARGV[1], 'q', question_json(KEYS[3]))}
