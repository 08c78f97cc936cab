-- vote.lua: a batch of votes (all of one event), each one participant's upvote or taking a vote back; one vote
-- per participant per question group.
--
-- A vote for a question merged into another counts for its group's head. A participant who asked any question
-- of the group supports it already: their vote is refused as already given. The votes are applied in order; then
-- each question whose tally changed is recounted once and gets one log entry with its new tally (so a batch of a
-- hundred votes for five questions writes five entries).
--
-- KEYS[1]    meta hash        liveqa:{<slug>}:meta
-- KEYS[2]    log stream       liveqa:{<slug>}:log
-- KEYS[3]    question prefix  liveqa:{<slug>}:q:   (the voter set is the question's key + ':voters')
-- KEYS[4]    banned set       liveqa:{<slug>}:banned
-- KEYS[5]    this batch's reply, kept for a repeat of it: liveqa:{<slug>}:request:<token> (see kept_reply)
-- KEYS[5+i]  rate bucket of the i-th vote's participant: liveqa:{<slug>}:rate:vote:<pid>
-- ARGV[1]    log maxlen
-- ARGV[2]    statuses in which an upvote is accepted (comma-separated)
-- ARGV[3]    rate capacity (0: no limit)
-- ARGV[4]    rate refill per second
-- ARGV[5..]  one triple per vote: participant id, question id, 'up' or 'down'
--
-- Returns one reply per vote, in order: {'ok', votes, log id}; or {'unknown_question', qid}, {'not_votable',
-- status}, {'already_voted', qid}, {'not_voted', qid}, {'rate_limited', ms}, {'banned', ''}.
local kept = kept_reply(KEYS[5])
if kept then return kept end
local prefix = KEYS[3]
local capacity, refill = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()

local function one(pid, qid, direction, bucket)
  local status = redis.call('HGET', prefix .. qid, 'status')
  if not status then return {'unknown_question', qid} end
  local head = redis.call('HGET', prefix .. qid, 'group')
  if head and head ~= '' then
    qid = head
    status = redis.call('HGET', prefix .. qid, 'status')
  end
  if redis.call('SISMEMBER', KEYS[4], pid) == 1 then return {'banned', ''} end
  local wait = take_token(bucket, capacity, refill, now)
  if wait > 0 then return {'rate_limited', tostring(wait)} end
  local voters = prefix .. qid .. ':voters'
  if direction == 'up' then
    if not member_of(ARGV[2], status) then return {'not_votable', status} end
    if supports(prefix, qid, pid) then return {'already_voted', qid} end
    redis.call('SADD', voters, pid)
  else  -- the vote may have been given to a question merged into this one since: take it back wherever it is
    local removed = redis.call('SREM', voters, pid)
    for _, m in ipairs(redis.call('SMEMBERS', prefix .. qid .. ':members')) do
      removed = removed + redis.call('SREM', prefix .. m .. ':voters', pid)
    end
    if removed == 0 then return {'not_voted', qid} end
  end
  return {'ok', qid}
end

local replies, changed, order = {}, {}, {}
for i = 1, (#ARGV - 4) / 3 do
  local reply = one(ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i], KEYS[5 + i])
  replies[i] = reply
  if reply[1] == 'ok' and not changed[reply[2]] then
    changed[reply[2]] = true
    order[#order + 1] = reply[2]
  end
end
local entries = {}
for _, qid in ipairs(order) do
  local votes = tostring(recount(prefix, qid))
  entries[qid] = {'ok', votes, append_log(ARGV[1], 'v', qid .. ' ' .. votes)}
end
for i, reply in ipairs(replies) do
  if reply[1] == 'ok' then replies[i] = entries[reply[2]] end
end
return keep_reply(KEYS[5], replies)
