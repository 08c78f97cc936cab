-- submit.lua: store a new question exactly once per (participant, client id), within the rate limit.
--
-- KEYS[1]  meta hash        liveqa:{<slug>}:meta
-- KEYS[2]  log stream       liveqa:{<slug>}:log
-- KEYS[3]  question counter liveqa:{<slug>}:seq
-- KEYS[4]  submissions hash liveqa:{<slug>}:cids   ('<pid>:<cid>' → '<qid> <log id>')
-- KEYS[5]  questions zset   liveqa:{<slug>}:questions
-- KEYS[6]  rate bucket      liveqa:{<slug>}:rate:submit:<pid>
-- KEYS[7]  question prefix  liveqa:{<slug>}:q:   (the new hash is this prefix + the new number; same slot)
-- KEYS[8]  queue list       liveqa:{<slug>}:queue
-- KEYS[9]  banned set       liveqa:{<slug>}:banned
-- ARGV[1]  log maxlen
-- ARGV[2]  participant id
-- ARGV[3]  client id (cid)
-- ARGV[4]  text (already normalised)
-- ARGV[5..7]  name, organisation, country ('' when anonymous)
-- ARGV[8..10] show_name, show_organisation, show_country ('1' or '0')
-- ARGV[11] rate capacity (0: no limit)
-- ARGV[12] rate refill per second
-- ARGV[13] why it is held for review ('' when it isn't: the word-list entry it matched)
-- ARGV[14] '1' to publish at once (post-moderation) unless held, '0' to wait for a moderator
-- ARGV[15] source: 'web', or the channel it came through (email, a hashtag, import…)
-- ARGV[16] the language the text seems to be in ('' when unknown)
-- ARGV[17] the asker's organisation is in the directory: its accreditation or 'listed' ('' when not)
--
-- Returns {'ok', qid, log id, text, 'new'|'duplicate'}; or {'unknown_event'}, {'questions_closed'},
-- {'rate_limited', ms to wait}, {'banned'}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_event', ''} end
local submission = ARGV[2] .. ':' .. ARGV[3]
local seen = redis.call('HGET', KEYS[4], submission)
if seen then
  local qid, id = string.match(seen, '^(%S+) (%S+)$')
  return {'ok', qid, id, redis.call('HGET', KEYS[7] .. qid, 'text') or '', 'duplicate'}
end
if redis.call('SISMEMBER', KEYS[9], ARGV[2]) == 1 then return {'banned', ''} end
if redis.call('HGET', KEYS[1], 'open') ~= '1' then return {'questions_closed', ''} end
local now = now_ms()
local opens, closes = tonumber(redis.call('HGET', KEYS[1], 'opens_at') or '0'), tonumber(redis.call('HGET', KEYS[1], 'closes_at') or '0')
if opens and opens > 0 and now < opens then return {'questions_closed', 'not yet open'} end
if closes and closes > 0 and now >= closes then return {'questions_closed', 'closed at the set time'} end
local wait = take_token(KEYS[6], tonumber(ARGV[11]), tonumber(ARGV[12]), now)
if wait > 0 then return {'rate_limited', tostring(wait)} end
local qid = tostring(redis.call('INCR', KEYS[3]))
local qkey = KEYS[7] .. qid
redis.call('HSET', qkey, 'id', qid, 'pid', ARGV[2], 'cid', ARGV[3], 'text', ARGV[4],
  'name', ARGV[5], 'organisation', ARGV[6], 'country', ARGV[7],
  'show_name', ARGV[8], 'show_organisation', ARGV[9], 'show_country', ARGV[10],
  'status', 'pending', 'votes', 0, 'pinned', '0', 'created', now, 'updated', now, 'rev', 1, 'held', ARGV[13],
  'source', ARGV[15], 'lang', ARGV[16], 'listed', ARGV[17])
redis.call('ZADD', KEYS[5], now, qid)
local id
if ARGV[14] == '1' and ARGV[13] == '' then
  redis.call('HSET', qkey, 'status', 'approved')
  redis.call('RPUSH', KEYS[8], qid)
  id = append_log(ARGV[1], 'q', question_json(qkey), 'o', list_json(KEYS[8]))
else
  id = append_log(ARGV[1], 'q', question_json(qkey))
end
redis.call('HSET', KEYS[4], submission, qid .. ' ' .. id)
return {'ok', qid, id, ARGV[4], 'new'}
