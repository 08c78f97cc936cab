-- new_participant.lua: a new participant identity, if the client address may make one now (one round trip
-- for the rate limit and the identity: a join of a new participant costs one Redis call).
--
-- KEYS[1]  bucket hash   liveqa:{<slug>}:rate:join:<who>
-- KEYS[2]  tokens hash   liveqa:{<slug>}:ptokens   (sha256(token) → participant id)
-- ARGV[1]  capacity (burst; 0: no limit)
-- ARGV[2]  refill per second
-- ARGV[3]  sha256 of the new token
-- ARGV[4]  the new participant id
--
-- Returns {'ok'}; or {'rate_limited', ms to wait} (nothing stored).
local wait = take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms())
if wait > 0 then return {'rate_limited', tostring(wait)} end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return {'ok'}
