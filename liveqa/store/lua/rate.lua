-- rate.lua: take one token from a token bucket shared by every server process (e.g. new participants per
-- client address, login attempts per address).
--
-- KEYS[1]  bucket hash    liveqa:{<slug>}:rate:<action>:<who>
-- ARGV[1]  capacity (burst)
-- ARGV[2]  refill per second
--
-- Returns {'ok'}; or {'rate_limited', ms to wait}.
local wait = take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms())
if wait > 0 then return {'rate_limited', tostring(wait)} end
return {'ok'}
