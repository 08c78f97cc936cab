-- move.lua: move one approved question just before or after another in the queue. Moves by several
-- moderators are serialised here, and every console applies the resulting orders in log order.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  queue list     liveqa:{<slug>}:queue (or the speakers' list: liveqa:{<slug>}:speakers)
-- ARGV[1]  log maxlen
-- ARGV[2]  question id to move
-- ARGV[3]  'BEFORE' or 'AFTER'
-- ARGV[4]  the other question's id
-- ARGV[5]  the log field of the new order: 'o' for the queue, 'l' for the speakers' list
--
-- Returns {'ok', log id}, {'ok', ''} when nothing moved; or {'not_queued', qid}.
if ARGV[2] == ARGV[4] then return {'ok', ''} end
if not redis.call('LPOS', KEYS[3], ARGV[2]) then return {'not_queued', ARGV[2]} end
if not redis.call('LPOS', KEYS[3], ARGV[4]) then return {'not_queued', ARGV[4]} end
redis.call('LREM', KEYS[3], 0, ARGV[2])
redis.call('LINSERT', KEYS[3], ARGV[3], ARGV[4], ARGV[2])
return {'ok', append_log(ARGV[1], ARGV[5], list_json(KEYS[3]))}
