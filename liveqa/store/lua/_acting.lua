-- _acting.lua: a moderator's action, checked and recorded by the script that does it (scripts.py wraps the
-- action's script in `act` below). One round trip instead of three: the session check, the action, the audit
-- entry. The action's own keys and arguments come first, as the script expects them; then:
--
-- KEYS[n-2]  this action's reply, kept for a repeat of it: liveqa:{<slug>}:request:<token> (see kept_reply)
-- KEYS[n-1]  the moderator's session    liveqa:{<slug>}:session:<sha256 of the session id>
-- KEYS[n]    the audit stream           liveqa:{<slug>}:audit
-- ARGV[m-k-2]  session idle expiry (s), extended by the action
-- ARGV[m-k-1]  session absolute lifetime (ms since its creation)
-- ARGV[m-k…m-1]  the audit entry's fields and values (k of them, flat)
-- ARGV[m]    k
--
-- Returns {'login_required'} when the session has ended (and then nothing is done); otherwise the action's reply
-- with one more value: '' when its audit entry was written (or nothing was done), or why it was not. A repeat
-- of the same action (same request key) gets that reply again, and does nothing.
local audit_count = tonumber(ARGV[#ARGV])
local own_args = #ARGV - audit_count - 3
local request_key, session_key, audit_key = KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS]
local kept = kept_reply(request_key)
if kept then return kept end
local idle_s, lifetime_ms = ARGV[own_args + 1], tonumber(ARGV[own_args + 2])
local audit_fields = {}
for i = own_args + 3, #ARGV - 1 do audit_fields[#audit_fields + 1] = ARGV[i] end

local session = redis.call('GET', session_key)
if not session then return {'login_required', 'login required'} end
if now_ms() - tonumber(cjson.decode(session)['created']) > lifetime_ms then
  redis.call('DEL', session_key)
  return {'login_required', 'login required'}
end
redis.call('EXPIRE', session_key, idle_s)

local function acted(reply)
  if reply[1] ~= 'ok' then return reply end
  local written = ''
  if reply[2] ~= '' then
    local result = redis.pcall('XADD', audit_key, '*', unpack(audit_fields))
    if type(result) == 'table' and result.err then written = result.err end
  end
  reply[#reply + 1] = written
  return keep_reply(request_key, reply)
end

-- The action's script sees only its own keys and arguments (the helpers above read the globals, whose first
-- items are the same).
local own_keys, own_argv = {}, {}
for i = 1, #KEYS - 3 do own_keys[i] = KEYS[i] end
for i = 1, own_args do own_argv[i] = ARGV[i] end
local KEYS, ARGV = own_keys, own_argv
