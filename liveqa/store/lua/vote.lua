-- vote.lua: one vote per participant per question; upvote or take the vote back.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  question hash  liveqa:{<slug>}:q:<qid>
-- KEYS[4]  voter set      liveqa:{<slug>}:q:<qid>:voters
-- KEYS[5]  rate bucket    liveqa:{<slug>}:rate:vote:<pid>
-- KEYS[6]  banned set     liveqa:{<slug>}:banned
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
local status = redis.call('HGET', KEYS[3], 'status')
if not status then return {'unknown_question', ARGV[3]} end
if redis.call('SISMEMBER', KEYS[6], ARGV[2]) == 1 then return {'banned', ''} end
local wait = take_token(KEYS[5], tonumber(ARGV[6]), tonumber(ARGV[7]), now_ms())
if wait > 0 then return {'rate_limited', tostring(wait)} end
local delta
if ARGV[4] == 'up' then
  if not member_of(ARGV[5], status) then return {'not_votable', status} end
  if redis.call('SADD', KEYS[4], ARGV[2]) == 0 then return {'already_voted', ARGV[3]} end
  delta = 1
else
  if redis.call('SREM', KEYS[4], ARGV[2]) == 0 then return {'not_voted', ARGV[3]} end
  delta = -1
end
local votes = redis.call('HINCRBY', KEYS[3], 'votes', delta)
local id = append_log(ARGV[1], 'v', ARGV[3] .. ' ' .. votes)
return {'ok', tostring(votes), id}
