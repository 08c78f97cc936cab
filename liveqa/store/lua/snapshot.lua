-- snapshot.lua: read an event's whole state and the log id it corresponds to, atomically (read-only).
--
-- KEYS[1]  meta hash        liveqa:{<slug>}:meta
-- KEYS[2]  log stream       liveqa:{<slug>}:log
-- KEYS[3]  questions zset   liveqa:{<slug>}:questions
-- KEYS[4]  queue list       liveqa:{<slug>}:queue
-- KEYS[5]  question prefix  liveqa:{<slug>}:q:
-- KEYS[6]  banned set       liveqa:{<slug>}:banned
-- KEYS[7]  floor requests   liveqa:{<slug>}:floorreqs
-- KEYS[8]  request prefix   liveqa:{<slug>}:floor:
-- KEYS[9]  speakers list    liveqa:{<slug>}:speakers
--
-- Returns {'ok', meta (flat), head log id, queue ids, {question (flat)…}, banned ids, {request (flat)…},
-- speakers' list}; or {'unknown_event'}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_event', ''} end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local head = '0-0'
if #last > 0 then head = last[1][1] end
local questions = {}
for _, qid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  questions[#questions + 1] = redis.call('HGETALL', KEYS[5] .. qid)
end
local requests = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[7], 0, -1)) do
  requests[#requests + 1] = redis.call('HGETALL', KEYS[8] .. id)
end
return {'ok', redis.call('HGETALL', KEYS[1]), head, redis.call('LRANGE', KEYS[4], 0, -1), questions,
  redis.call('SMEMBERS', KEYS[6]), requests, redis.call('LRANGE', KEYS[9], 0, -1)}
