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

-- A request's reply is kept for ten seconds under the request's own key (a token the client made for it): the
-- same request sent again (redis-py resends a command whose connection was lost; a cluster client, one that
-- timed out, and it may have run) gets the reply of the first run instead of a refusal of its repeat.
local function kept_reply(key)
  local kept = redis.call('GET', key)
  if kept then return cjson.decode(kept) end
  return nil
end

local function keep_reply(key, reply)
  redis.call('SET', key, cjson.encode(reply), 'PX', 10000)
  return reply
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


-- Grouping. A question merged into another (its group's head) has 'group' set to the head's id and is listed in
-- the head's members set (prefix .. head .. ':members'); members are never in the queue themselves.

-- The distinct participants who asked or voted for a question or any question merged into it, less its own
-- asker (who counts once, even after voting): stored as the head's 'votes' and returned.
local function recount(prefix, qid)
  local qkey = prefix .. qid
  local asker = redis.call('HGET', qkey, 'pid') or ''
  local members = redis.call('SMEMBERS', qkey .. ':members')
  local votes
  if #members == 0 then
    votes = redis.call('SCARD', qkey .. ':voters') - redis.call('SISMEMBER', qkey .. ':voters', asker)
  else
    local seen, count = {[asker] = true}, 0
    local function add(pid)
      if pid and not seen[pid] then
        seen[pid] = true
        count = count + 1
      end
    end
    for _, pid in ipairs(redis.call('SMEMBERS', qkey .. ':voters')) do add(pid) end
    for _, m in ipairs(members) do
      add(redis.call('HGET', prefix .. m, 'pid'))
      for _, pid in ipairs(redis.call('SMEMBERS', prefix .. m .. ':voters')) do add(pid) end
    end
    votes = count
  end
  redis.call('HSET', qkey, 'votes', votes)
  return votes
end

-- Whether participant `pid` supports the group of `head` already (asked one of its questions, or voted).
local function supports(prefix, head, pid)
  local qkey = prefix .. head
  if redis.call('HGET', qkey, 'pid') == pid or redis.call('SISMEMBER', qkey .. ':voters', pid) == 1 then
    return true
  end
  for _, m in ipairs(redis.call('SMEMBERS', qkey .. ':members')) do
    if redis.call('HGET', prefix .. m, 'pid') == pid or redis.call('SISMEMBER', prefix .. m .. ':voters', pid) == 1 then
      return true
    end
  end
  return false
end

-- Merge `member` (and whatever was merged into it) into `head`: it leaves the queue and the screen. Returns the
-- log fields for the change: 'q' member, 'g' head, 'r' the other questions moved along, 'o' and 's' as needed.
local function join(prefix, queue, meta, member, head, by, now)
  local mkey, hkey = prefix .. member, prefix .. head
  local moved = {}
  for _, m in ipairs(redis.call('SMEMBERS', mkey .. ':members')) do
    redis.call('HSET', prefix .. m, 'group', head)
    redis.call('SADD', hkey .. ':members', m)
    moved[#moved + 1] = redis.call('HGETALL', prefix .. m)
  end
  redis.call('DEL', mkey .. ':members')
  redis.call('SADD', hkey .. ':members', member)
  redis.call('HSET', mkey, 'group', head, 'pinned', '0', 'similar', '', 'similarity', '')
  touch(mkey, by, now)
  recount(prefix, member)
  recount(prefix, head)
  redis.call('HINCRBY', hkey, 'rev', 1)
  redis.call('HSET', hkey, 'updated', now)
  local fields = {}
  if redis.call('LREM', queue, 0, member) > 0 then
    fields[#fields + 1] = 'o'
    fields[#fields + 1] = list_json(queue)
  end
  if redis.call('HGET', meta, 'screen') == member then
    redis.call('HSET', meta, 'screen', '')
    fields[#fields + 1] = 's'
    fields[#fields + 1] = ''
  end
  fields[#fields + 1] = 'q'
  fields[#fields + 1] = question_json(mkey)
  fields[#fields + 1] = 'g'
  fields[#fields + 1] = question_json(hkey)
  if #moved > 0 then
    fields[#fields + 1] = 'r'
    fields[#fields + 1] = cjson.encode(moved)
  end
  return fields
end
