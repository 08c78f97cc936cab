-- _lib.lua: helpers prepended to every script by scripts.py (Redis 6.2 has no functions library).
--
-- Conventions of every mutation script:
--   KEYS[1] is the event's meta hash, KEYS[2] its log stream; ARGV[1] is the log's approximate MAXLEN.
--   Replies are arrays: {'ok', …values} on success, or {<error code>, <detail>} when a rule refused it.
--   State changes and the log entry that records them happen in the same script, so they never disagree.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function append_log(maxlen, ...)
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', ...)
end

local function question_json(qkey)
  return cjson.encode(redis.call('HGETALL', qkey))
end

local function list_json(key)
  local items = redis.call('LRANGE', key, 0, -1)
  if #items == 0 then return '[]' end
  return cjson.encode(items)
end

-- pairs is a flat {from, to, from, to…} table; returns the target status for `status`, or nil
local function target_of(pairs, status)
  for i = 1, #pairs, 2 do
    if pairs[i] == status then return pairs[i + 1] end
  end
  return nil
end

local function member_of(csv, value)
  for item in string.gmatch(csv, '[^,]+') do
    if item == value then return true end
  end
  return false
end

-- Token bucket in a hash {tokens, ts}; refill `per_sec` tokens a second up to `capacity`.
-- Returns 0 when a token was taken, or the milliseconds to wait for one.
local function take_token(key, capacity, per_sec, now)
  if capacity <= 0 then return 0 end
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or capacity
  local ts = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + (now - ts) * per_sec / 1000)
  if tokens < 1 then
    return math.ceil((1 - tokens) * 1000 / per_sec)
  end
  redis.call('HSET', key, 'tokens', tokens - 1, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(capacity * 1000 / per_sec) + 1000)
  return 0
end

local function touch(qkey, by, now)
  redis.call('HINCRBY', qkey, 'rev', 1)
  redis.call('HSET', qkey, 'updated', now, 'by', by)
end

