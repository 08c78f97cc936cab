-- floor.lua: move a request for the floor by the table of its action (list, decline, call, finish, relist,
-- withdraw), keeping the speakers' list and who is speaking consistent with it. One speaker at a time: calling
-- someone ends whoever was speaking.
--
-- KEYS[1]  meta hash        liveqa:{<slug>}:meta   ('speaking': the request that has the floor, or '')
-- KEYS[2]  log stream       liveqa:{<slug>}:log
-- KEYS[3]  request prefix   liveqa:{<slug>}:floor:
-- KEYS[4]  speakers list    liveqa:{<slug>}:speakers
-- ARGV[1]  log maxlen
-- ARGV[2]  action name (logged as 'a' = 'floor_<action>')
-- ARGV[3]  request id
-- ARGV[4]  who acts (moderator name, or '' for the requester)
-- ARGV[5]  owner: when not '', only the participant with this id may act (withdrawing)
-- ARGV[6]  reason (kept with a decline)
-- ARGV[7…] the action's table as from/to pairs
--
-- Returns {'ok', log id}; or {'unknown_request'}, {'not_yours'}, {'bad_transition', detail}.
local fkey = KEYS[3] .. ARGV[3]
local status = redis.call('HGET', fkey, 'status')
if not status then return {'unknown_request', ARGV[3]} end
if ARGV[5] ~= '' and redis.call('HGET', fkey, 'pid') ~= ARGV[5] then return {'not_yours', ARGV[3]} end
local moves = {}
for i = 7, #ARGV do moves[#moves + 1] = ARGV[i] end
local target = target_of(moves, status)
if not target then return {'bad_transition', 'cannot ' .. ARGV[2] .. ' a request that is ' .. status} end
local now = now_ms()
local changed = {fkey}
local entry = {}
redis.call('HSET', fkey, 'status', target, 'updated', now, 'by', ARGV[4], 'reason', target == 'declined' and ARGV[6] or '')
local listed = false
if status == 'listed' then listed = redis.call('LREM', KEYS[4], 0, ARGV[3]) > 0 end
if target == 'listed' then
  redis.call('RPUSH', KEYS[4], ARGV[3])
  listed = true
end
if listed then
  entry[#entry + 1] = 'l'
  entry[#entry + 1] = list_json(KEYS[4])
end
local speaking = redis.call('HGET', KEYS[1], 'speaking') or ''
if target == 'speaking' then
  if speaking ~= '' and speaking ~= ARGV[3] and redis.call('HGET', KEYS[3] .. speaking, 'status') == 'speaking' then
    redis.call('HSET', KEYS[3] .. speaking, 'status', 'done', 'ended', now, 'updated', now)
    changed[#changed + 1] = KEYS[3] .. speaking
  end
  redis.call('HSET', fkey, 'started', now, 'ended', 0)
  redis.call('HSET', KEYS[1], 'speaking', ARGV[3])
  entry[#entry + 1] = 'k'
  entry[#entry + 1] = ARGV[3]
elseif status == 'speaking' then
  redis.call('HSET', fkey, 'ended', now)
  if speaking == ARGV[3] then
    redis.call('HSET', KEYS[1], 'speaking', '')
    entry[#entry + 1] = 'k'
    entry[#entry + 1] = ''
  end
end
local requests = {}
for _, key in ipairs(changed) do requests[#requests + 1] = redis.call('HGETALL', key) end
return {'ok', append_log(ARGV[1], 'f', cjson.encode(requests), 'a', 'floor_' .. ARGV[2], unpack(entry))}
