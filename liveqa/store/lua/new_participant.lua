-- new_participant.lua: new participant identities (a batch, all of one event), each if its client address may
-- make one now: one round trip for the rate limits and the identities of every participant joining together.
--
-- KEYS[1]    tokens hash   liveqa:{<slug>}:ptokens   (sha256(token) → participant id)
-- KEYS[1+i]  the i-th join's bucket hash: liveqa:{<slug>}:rate:join:<who>
-- ARGV[1]    capacity (burst; 0: no limit)
-- ARGV[2]    refill per second
-- ARGV[3..]  one pair per join: sha256 of the new token, the new participant id
--
-- Returns one reply per join, in order: {'ok'}; or {'rate_limited', ms to wait} (nothing stored for it).
local capacity, refill, now = tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms()
local replies = {}
for i = 1, (#ARGV - 2) / 2 do
  local wait = take_token(KEYS[1 + i], capacity, refill, now)
  if wait > 0 then
    replies[i] = {'rate_limited', tostring(wait)}
  else
    redis.call('HSET', KEYS[1], ARGV[1 + 2 * i], ARGV[2 + 2 * i])
    replies[i] = {'ok'}
  end
end
return replies
