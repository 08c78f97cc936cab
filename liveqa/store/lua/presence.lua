-- presence.lua: who is moderating, across every server process. Each console is a member with an expiry;
-- when the set of names changes, the new list is logged so that every console learns it.
--
-- KEYS[1]  meta hash       liveqa:{<slug>}:meta   (field 'moderators': the last logged list, JSON)
-- KEYS[2]  log stream      liveqa:{<slug>}:log
-- KEYS[3]  presence zset   liveqa:{<slug>}:presence   (member '<console id> <name>', score: expiry ms)
-- ARGV[1]  log maxlen
-- ARGV[2]  time to live of a refresh, ms
-- ARGV[3…] triples: op ('here' or 'gone'), console id, name
--
-- Returns {'ok', log id or '' when the list of names did not change}.
local now = now_ms()
for i = 3, #ARGV, 3 do
  local member = ARGV[i + 1] .. ' ' .. ARGV[i + 2]
  if ARGV[i] == 'here' then
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), member)
  else
    redis.call('ZREM', KEYS[3], member)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local seen, names = {}, {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local name = string.match(member, '^%S+ (.*)$')
  if name and not seen[name] then
    seen[name] = true
    names[#names + 1] = name
  end
end
table.sort(names)
local encoded = '[]'
if #names > 0 then encoded = cjson.encode(names) end
if redis.call('HGET', KEYS[1], 'moderators') == encoded then return {'ok', ''} end
redis.call('HSET', KEYS[1], 'moderators', encoded)
return {'ok', append_log(ARGV[1], 'm', encoded)}
