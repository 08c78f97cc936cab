-- pin.lua: pin an approved question (it goes to the top of the queue and stays above unpinned ones), or unpin.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  question hash  liveqa:{<slug>}:q:<qid>
-- KEYS[4]  queue list     liveqa:{<slug>}:queue
-- ARGV[1]  log maxlen
-- ARGV[2]  question id
-- ARGV[3]  moderator name
-- ARGV[4]  '1' to pin, '0' to unpin
--
-- Returns {'ok', log id}; or {'unknown_question'}, {'not_queued'}.
local status = redis.call('HGET', KEYS[3], 'status')
if not status then return {'unknown_question', ARGV[2]} end
local group = redis.call('HGET', KEYS[3], 'group')
if status ~= 'approved' or (group and group ~= '') then return {'not_queued', ARGV[2]} end
redis.call('HSET', KEYS[3], 'pinned', ARGV[4])
touch(KEYS[3], ARGV[3], now_ms())
if ARGV[4] == '1' then
  redis.call('LREM', KEYS[4], 0, ARGV[2])
  redis.call('LPUSH', KEYS[4], ARGV[2])
end
return {'ok', append_log(ARGV[1], 'q', question_json(KEYS[3]), 'o', list_json(KEYS[4]))}
