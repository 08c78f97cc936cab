-- erase_participant.lua: erase what identifies one participant (on their request): the name, organisation and
-- country on their questions and requests for the floor, and their tokens. Each question changed is logged in its erased form; the store
-- then removes the older log entries that still carry the identity (redis.py).
--
-- KEYS[1]  meta hash          liveqa:{<slug>}:meta
-- KEYS[2]  log stream         liveqa:{<slug>}:log
-- KEYS[3]  questions zset     liveqa:{<slug>}:questions
-- KEYS[4]  question prefix    liveqa:{<slug>}:q:
-- KEYS[5]  participant tokens liveqa:{<slug>}:ptokens
-- KEYS[6]  floor requests     liveqa:{<slug>}:floorreqs
-- KEYS[7]  request prefix     liveqa:{<slug>}:floor:
-- ARGV[1]  log maxlen
-- ARGV[2]  participant id
--
-- Returns {'ok', number of questions erased, first log id written or ''}.
local count, first = 0, ''
for _, qid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local qkey = KEYS[4] .. qid
  if redis.call('HGET', qkey, 'pid') == ARGV[2] then
    redis.call('HSET', qkey, 'name', '', 'organisation', '', 'country', '',
      'show_name', '0', 'show_organisation', '0', 'show_country', '0')
    redis.call('HINCRBY', qkey, 'rev', 1)
    local id = append_log(ARGV[1], 'q', question_json(qkey))
    if first == '' then first = id end
    count = count + 1
  end
end
for _, fid in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
  local fkey = KEYS[7] .. fid
  if redis.call('HGET', fkey, 'pid') == ARGV[2] then
    redis.call('HSET', fkey, 'name', '', 'organisation', '', 'country', '')
    local id = append_log(ARGV[1], 'f', cjson.encode({redis.call('HGETALL', fkey)}))
    if first == '' then first = id end
  end
end
local tokens = redis.call('HGETALL', KEYS[5])
for i = 1, #tokens, 2 do
  if tokens[i + 1] == ARGV[2] then redis.call('HDEL', KEYS[5], tokens[i]) end
end
return {'ok', count, first}
