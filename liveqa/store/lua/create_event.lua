-- create_event.lua: create an event with its public meta and its secrets, and open its log.
--
-- KEYS[1]  meta hash      liveqa:{<slug>}:meta
-- KEYS[2]  log stream     liveqa:{<slug>}:log
-- KEYS[3]  secrets hash   liveqa:{<slug>}:secrets
-- ARGV[1]  log maxlen
-- ARGV[2]  slug
-- ARGV[3]  title
-- ARGV[4]  anonymous allowed ('1' or '0')
-- ARGV[5]  max question length (grapheme clusters)
-- ARGV[6]  epoch (random hex; a new epoch tells clients their log ids mean nothing here)
-- ARGV[7]  moderator password hash (argon2)
-- ARGV[8]  screen token
-- ARGV[9]  schema version
-- ARGV[10…] more meta fields as field, value pairs (moderation, retention_days…)
--
-- Returns {'ok', log id}, or {'exists', slug}.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', ARGV[2]}
end
redis.call('HSET', KEYS[1], 'slug', ARGV[2], 'title', ARGV[3], 'anonymous_allowed', ARGV[4],
  'max_length', ARGV[5], 'open', '1', 'epoch', ARGV[6], 'screen', '', 'schema', ARGV[9], 'created', now_ms())
for i = 10, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[3], 'password', ARGV[7], 'screen_token', ARGV[8])
local id = append_log(ARGV[1], 'e', cjson.encode(redis.call('HGETALL', KEYS[1])))
return {'ok', id}
