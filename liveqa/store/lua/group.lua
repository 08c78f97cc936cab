-- group.lua: the grouping step's decision on one new question, taken in question order, once.
--
-- One process at a time runs an event's grouping step (a lease), and every decision names the question it
-- follows: a decision made on a stale view (another process decided meanwhile) is refused, so two paraphrases
-- arriving together on two processes end up in one group, never two.
--
-- KEYS[1]  meta hash        liveqa:{<slug>}:meta
-- KEYS[2]  log stream       liveqa:{<slug>}:log
-- KEYS[3]  question prefix  liveqa:{<slug>}:q:
-- KEYS[4]  grouped counter  liveqa:{<slug>}:grouped   (the last question decided)
-- KEYS[5]  queue list       liveqa:{<slug>}:queue
-- ARGV[1]  log maxlen
-- ARGV[2]  question id (a number)
-- ARGV[3]  the last question decided, as the decision was made (the counter must still hold it)
-- ARGV[4]  'merge', 'suggest' or 'new'
-- ARGV[5]  the question it repeats ('' for new)
-- ARGV[6]  how alike they are, 0..1
--
-- Returns {'ok', log id or '', what was done}; or {'stale', the counter}, {'unknown_event'}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_event', ''} end
local done = redis.call('GET', KEYS[4]) or '0'
if done ~= ARGV[3] then return {'stale', done} end
redis.call('SET', KEYS[4], ARGV[2])
local qkey = KEYS[3] .. ARGV[2]
local status = redis.call('HGET', qkey, 'status')
if ARGV[4] == 'new' or ARGV[5] == '' or ARGV[5] == ARGV[2] then return {'ok', '', 'new'} end
local group = redis.call('HGET', qkey, 'group')
if (status ~= 'pending' and status ~= 'approved') or (group and group ~= '') then
  return {'ok', '', 'new'}
end
local target = ARGV[5]
local head = redis.call('HGET', KEYS[3] .. target, 'group')
if head and head ~= '' then target = head end
local target_status = redis.call('HGET', KEYS[3] .. target, 'status')
if target == ARGV[2] or (target_status ~= 'pending' and target_status ~= 'approved' and target_status ~= 'answered') then
  return {'ok', '', 'new'}
end
local now = now_ms()
-- An approved question is only merged into an approved one: never out of the public queue into a pending head.
local mergeable = target_status ~= 'answered' and redis.call('HGET', qkey, 'held') == ''
  and redis.call('EXISTS', qkey .. ':members') == 0 and (status == 'pending' or target_status == 'approved')
if ARGV[4] == 'merge' and mergeable then
  local fields = join(KEYS[3], KEYS[5], KEYS[1], ARGV[2], target, '', now)
  return {'ok', append_log(ARGV[1], 'a', 'grouped', unpack(fields)), 'merge'}
end
redis.call('HSET', qkey, 'similar', target, 'similarity', ARGV[6])
return {'ok', append_log(ARGV[1], 'q', question_json(qkey), 'a', 'similar'), 'suggest'}
