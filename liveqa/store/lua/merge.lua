-- merge.lua: a moderator merges a question into another (with whatever was merged into it), or splits one off
-- its group again.
--
-- KEYS[1]  meta hash        liveqa:{<slug>}:meta
-- KEYS[2]  log stream       liveqa:{<slug>}:log
-- KEYS[3]  question prefix  liveqa:{<slug>}:q:
-- KEYS[4]  queue list       liveqa:{<slug>}:queue
-- ARGV[1]  log maxlen
-- ARGV[2]  'merge' or 'unmerge'
-- ARGV[3]  question id
-- ARGV[4]  the question to merge it into (merge), its group's head is used; '' for unmerge
-- ARGV[5]  moderator name
--
-- Returns {'ok', log id}; or {'unknown_question'}, {'bad_transition', why}.
local prefix = KEYS[3]
local qkey = prefix .. ARGV[3]
local status = redis.call('HGET', qkey, 'status')
if not status then return {'unknown_question', ARGV[3]} end
local group = redis.call('HGET', qkey, 'group') or ''
local now = now_ms()
if ARGV[2] == 'unmerge' then
  if group == '' then return {'bad_transition', 'the question is not merged into another'} end
  redis.call('SREM', prefix .. group .. ':members', ARGV[3])
  redis.call('HSET', qkey, 'group', '', 'similar', group, 'similarity', '')
  touch(qkey, ARGV[5], now)
  recount(prefix, ARGV[3])
  recount(prefix, group)
  redis.call('HINCRBY', prefix .. group, 'rev', 1)
  redis.call('HSET', prefix .. group, 'updated', now)
  local fields = {}
  if status == 'approved' then
    redis.call('RPUSH', KEYS[4], ARGV[3])
    fields = {'o', list_json(KEYS[4])}
  end
  return {'ok', append_log(ARGV[1], 'q', question_json(qkey), 'g', question_json(prefix .. group),
    'a', 'unmerge', unpack(fields))}
end
local target = ARGV[4]
local target_status = redis.call('HGET', prefix .. target, 'status')
if not target_status then return {'unknown_question', target} end
local head = redis.call('HGET', prefix .. target, 'group')
if head and head ~= '' then target = head end
if target == ARGV[3] or target == group then return {'bad_transition', 'the two are in one group already'} end
for _, s in ipairs({status, redis.call('HGET', prefix .. target, 'status')}) do
  if s == 'withdrawn' then return {'bad_transition', 'cannot merge a withdrawn question'} end
end
if group ~= '' then  -- a member moves from its group to another: the first group loses a supporter
  redis.call('SREM', prefix .. group .. ':members', ARGV[3])
  recount(prefix, group)
  redis.call('HINCRBY', prefix .. group, 'rev', 1)
end
local fields = join(prefix, KEYS[4], KEYS[1], ARGV[3], target, ARGV[5], now)
if group ~= '' then  -- the first group's head changed too: it goes with the questions moved along ('r')
  local moved = {}
  for i = 1, #fields, 2 do
    if fields[i] == 'r' then moved = cjson.decode(fields[i + 1]) end
  end
  moved[#moved + 1] = redis.call('HGETALL', prefix .. group)
  local found = false
  for i = 1, #fields, 2 do
    if fields[i] == 'r' then
      fields[i + 1] = cjson.encode(moved)
      found = true
    end
  end
  if not found then
    fields[#fields + 1] = 'r'
    fields[#fields + 1] = cjson.encode(moved)
  end
end
return {'ok', append_log(ARGV[1], 'a', 'merge', unpack(fields))}
