-- vote.lua: one vote per participant per question group; upvote or take the vote back.
--
-- A vote for a question merged into another counts for its group's head. A participant who asked any question
-- of the group supports it already: their vote is refused as already given.
--
-- KEYS[1]  meta hash        liveqa:{<slug>}:meta
-- KEYS[2]  log stream       liveqa:{<slug>}:log
-- KEYS[3]  question prefix  liveqa:{<slug>}:q:   (the voter set is the question's key + ':voters')
-- KEYS[4]  rate bucket      liveqa:{<slug>}:rate:vote:<pid>
-- KEYS[5]  banned set       liveqa:{<slug>}:banned
-- ARGV[1]  log maxlen
-- ARGV[2]  participant id
-- ARGV[3]  question id
-- ARGV[4]  'up' or 'down'
-- ARGV[5]  statuses in which an upvote is accepted (comma-separated)
-- ARGV[6]  rate capacity (0: no limit)
-- ARGV[7]  rate refill per second
--
-- Returns {'ok', votes, log id}; or {'unknown_question'}, {'not_votable'}, {'already_voted'},
-- {'not_voted'}, {'rate_limited', ms}, {'banned'}.
local prefix = KEYS[3]
local qid = ARGV[3]
local status = redis.call('HGET', prefix .. qid, 'status')
if not status then return {'unknown_question', qid} end
local head = redis.call('HGET', prefix .. qid, 'group')
if head and head ~= '' then
  qid = head
  status = redis.call('HGET', prefix .. qid, 'status')
end
if redis.call('SISMEMBER', KEYS[5], ARGV[2]) == 1 then return {'banned', ''} end
local wait = take_token(KEYS[4], tonumber(ARGV[6]), tonumber(ARGV[7]), now_ms())
if wait > 0 then return {'rate_limited', tostring(wait)} end
local voters = prefix .. qid .. ':voters'
if ARGV[4] == 'up' then
  if not member_of(ARGV[5], status) then return {'not_votable', status} end
  if supports(prefix, qid, ARGV[2]) then return {'already_voted', qid} end
  redis.call('SADD', voters, ARGV[2])
else  -- the vote may have been given to a question merged into this one since: take it back wherever it is
  local removed = redis.call('SREM', voters, ARGV[2])
  for _, m in ipairs(redis.call('SMEMBERS', prefix .. qid .. ':members')) do
    removed = removed + redis.call('SREM', prefix .. m .. ':voters', ARGV[2])
  end
  if removed == 0 then return {'not_voted', qid} end
end
local votes = recount(prefix, qid)
local id = append_log(ARGV[1], 'v', qid .. ' ' .. votes)
return {'ok', tostring(votes), id}
