-- transition.lua: move a question from one status to another by the domain's transition table, keeping the
-- approved queue and the screen consistent with it.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  question hash  liveqa:{<slug>}:q:<qid>
-- KEYS[4]  queue list     liveqa:{<slug>}:queue
-- ARGV[1]  log maxlen
-- ARGV[2]  question id
-- ARGV[3]  who acts (moderator name, or '' for the asker)
-- ARGV[4]  owner: when not '', only the participant with this id may act (the asker withdrawing)
-- ARGV[5]  reason (kept with a rejection; cleared otherwise)
-- ARGV[6]  action name (for the error detail, and logged as 'a' for webhooks)
-- ARGV[7]  where an approved question goes in the queue: '' for the end, or the id to insert it before
-- ARGV[8…] the action's table as from/to pairs
--
-- Returns {'ok', log id, new status}; or {'unknown_question'}, {'not_yours'}, {'bad_transition', detail}.
local status = redis.call('HGET', KEYS[3], 'status')
if not status then return {'unknown_question', ARGV[2]} end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[3], 'pid') ~= ARGV[4] then return {'not_yours', ARGV[2]} end
local table_pairs = {}
for i = 8, #ARGV do table_pairs[#table_pairs + 1] = ARGV[i] end
local target = target_of(table_pairs, status)
if not target then return {'bad_transition', 'cannot ' .. ARGV[6] .. ' a ' .. status .. ' question'} end
local now = now_ms()
touch(KEYS[3], ARGV[3], now)
redis.call('HSET', KEYS[3], 'status', target, 'reason', target == 'rejected' and ARGV[5] or '')
if target == 'answered' then redis.call('HSET', KEYS[3], 'answered', now) end
local entry = {}
local group = redis.call('HGET', KEYS[3], 'group')
if target == 'approved' and status ~= 'approved' and not (group and group ~= '') then
  if ARGV[7] == '' or redis.call('LINSERT', KEYS[4], 'BEFORE', ARGV[7], ARGV[2]) <= 0 then
    redis.call('RPUSH', KEYS[4], ARGV[2])
  end
  entry = {'o', list_json(KEYS[4])}
elseif status == 'approved' and target ~= 'approved' then
  redis.call('LREM', KEYS[4], 0, ARGV[2])
  redis.call('HSET', KEYS[3], 'pinned', '0')
  entry = {'o', list_json(KEYS[4])}
end
-- A question leaves the screen when it is answered or leaves the public queue.
if target ~= 'approved' and redis.call('HGET', KEYS[1], 'screen') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'screen', '')
  entry[#entry + 1] = 's'
  entry[#entry + 1] = ''
end
-- A withdrawn question leaves its group: its asker no longer supports it. A withdrawn group head hands the group
-- to its oldest member.
if target == 'withdrawn' then
  local prefix = string.sub(KEYS[3], 1, #KEYS[3] - #ARGV[2])
  if group and group ~= '' then
    redis.call('SREM', prefix .. group .. ':members', ARGV[2])
    redis.call('HSET', KEYS[3], 'group', '')
    recount(prefix, group)
    entry[#entry + 1] = 'g'
    entry[#entry + 1] = question_json(prefix .. group)
  else
    local members = redis.call('SMEMBERS', KEYS[3] .. ':members')
    if #members > 0 then
      table.sort(members, function(a, b) return tonumber(a) < tonumber(b) end)
      local heir = members[1]
      redis.call('DEL', KEYS[3] .. ':members')
      redis.call('HSET', prefix .. heir, 'group', '')
      local moved = {}
      for i = 2, #members do
        redis.call('HSET', prefix .. members[i], 'group', heir)
        redis.call('SADD', prefix .. heir .. ':members', members[i])
        moved[#moved + 1] = redis.call('HGETALL', prefix .. members[i])
      end
      recount(prefix, heir)
      recount(prefix, ARGV[2])
      redis.call('HINCRBY', prefix .. heir, 'rev', 1)
      redis.call('HSET', prefix .. heir, 'updated', now)
      if redis.call('HGET', prefix .. heir, 'status') == 'approved' then  -- it stands alone: back in the queue
        redis.call('RPUSH', KEYS[4], heir)
        entry[#entry + 1] = 'o'
        entry[#entry + 1] = list_json(KEYS[4])
      end
      entry[#entry + 1] = 'g'
      entry[#entry + 1] = question_json(prefix .. heir)
      if #moved > 0 then
        entry[#entry + 1] = 'r'
        entry[#entry + 1] = cjson.encode(moved)
      end
    end
  end
end
entry[#entry + 1] = 'a'
entry[#entry + 1] = ARGV[6]
local id = append_log(ARGV[1], 'q', question_json(KEYS[3]), unpack(entry))
return {'ok', id, target}
