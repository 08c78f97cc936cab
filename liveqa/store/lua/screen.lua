-- screen.lua: put one question on the screen, or clear it.
--
-- KEYS[1]  meta hash        liveqa:{<slug>}:meta
-- KEYS[2]  log stream       liveqa:{<slug>}:log
-- KEYS[3]  question prefix  liveqa:{<slug>}:q:   (the shown question's hash is this prefix + its id)
-- ARGV[1]  log maxlen
-- ARGV[2]  question id, or '' to clear
-- ARGV[3]  statuses that may be shown (comma-separated)
--
-- Returns {'ok', log id}, {'ok', ''} when nothing changed; or {'unknown_question'}, {'bad_transition'}.
if ARGV[2] ~= '' then
  local status = redis.call('HGET', KEYS[3] .. ARGV[2], 'status')
  if not status then return {'unknown_question', ARGV[2]} end
  if not member_of(ARGV[3], status) then return {'bad_transition', 'cannot show a ' .. status .. ' question'} end
  local group = redis.call('HGET', KEYS[3] .. ARGV[2], 'group')
  if group and group ~= '' then return {'bad_transition', 'the question is merged into ' .. group .. ': show that one'} end
end
if redis.call('HGET', KEYS[1], 'screen') == ARGV[2] then return {'ok', ''} end
redis.call('HSET', KEYS[1], 'screen', ARGV[2])
local action = 'show'
if ARGV[2] == '' then action = 'clear_screen' end
return {'ok', append_log(ARGV[1], 's', ARGV[2], 'a', action)}
