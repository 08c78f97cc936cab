-- lease.lua: take or keep a lease (one process runs a step at a time; a crashed holder's lease expires).
--
-- KEYS[1]  lease key
-- ARGV[1]  owner id
-- ARGV[2]  ttl in ms
--
-- Returns {'ok', '1'} when `owner` holds the lease now, {'ok', '0'} when another does.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {'ok', '0'} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'ok', '1'}
