-- floor_request.lua: a participant in the room asks for the floor, exactly once per (participant, client id).
--
-- KEYS[1]  meta hash         liveqa:{<slug>}:meta
-- KEYS[2]  log stream        liveqa:{<slug>}:log
-- KEYS[3]  request counter   liveqa:{<slug>}:floorseq
-- KEYS[4]  client ids hash   liveqa:{<slug>}:floorcids   ('<pid>:<cid>' → id)
-- KEYS[5]  requests zset     liveqa:{<slug>}:floorreqs
-- KEYS[6]  request prefix    liveqa:{<slug>}:floor:
-- KEYS[7]  rate bucket       liveqa:{<slug>}:rate:floor:<pid>
-- KEYS[8]  banned set        liveqa:{<slug>}:banned
-- ARGV[1]  log maxlen
-- ARGV[2]  participant id
-- ARGV[3]  client id
-- ARGV[4..6] name, organisation, country
-- ARGV[7]  topic
-- ARGV[8]  language they will speak in
-- ARGV[9]  rate capacity (0: no limit)
-- ARGV[10] rate refill per second
--
-- Returns {'ok', id, log id ('' when it was asked before)}; or {'unknown_event'}, {'banned'}, {'questions_closed'},
-- {'rate_limited', ms}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_event', ''} end
local key = ARGV[2] .. ':' .. ARGV[3]
local seen = redis.call('HGET', KEYS[4], key)
if seen then return {'ok', seen, ''} end
if redis.call('SISMEMBER', KEYS[8], ARGV[2]) == 1 then return {'banned', ''} end
if (tonumber(redis.call('HGET', KEYS[1], 'ended') or '0') or 0) > 0 then
  return {'questions_closed', 'the dialogue has ended'}
end
local now = now_ms()
local wait = take_token(KEYS[7], tonumber(ARGV[9]), tonumber(ARGV[10]), now)
if wait > 0 then return {'rate_limited', tostring(wait)} end
local id = tostring(redis.call('INCR', KEYS[3]))
local fkey = KEYS[6] .. id
redis.call('HSET', fkey, 'id', id, 'pid', ARGV[2], 'name', ARGV[4], 'organisation', ARGV[5], 'country', ARGV[6],
  'topic', ARGV[7], 'lang', ARGV[8], 'status', 'requested', 'created', now, 'updated', now)
redis.call('ZADD', KEYS[5], now, id)
redis.call('HSET', KEYS[4], key, id)
return {'ok', id, append_log(ARGV[1], 'f', cjson.encode({redis.call('HGETALL', fkey)}), 'a', 'floor_request')}
