-- Aether: settle what requests took, a batch of them in one call. Rates are corrected to
-- what was used (given back or topped up), leases released, budget reservations replaced by
-- the real spend. The rules are those of LocalStore::settle in proxy/src/limits/local.rs.
--
-- ARGV: r, then r × (id, n, n × (kind, key index, limit, amount, used, extra)); kinds and
-- keys as in admit.lua (a budget's three keys in a row; extra: when its period ends, 0:
-- never).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function settle(id, kind, key_index, limit, amount, used, extra)
  local k = KEYS[key_index]
  if kind == 'r' then
    local delta = used - amount
    if delta ~= 0 then
      local s = redis.call('HMGET', k, 'l', 't')
      local level, at = tonumber(s[1]), tonumber(s[2])
      if level == nil then
        level = limit
      else
        level = math.min(limit, level + math.max(0, now - at) * limit / 60000)
      end
      level = math.min(limit, level - delta)
      redis.call('HSET', k, 'l', tostring(level), 't', now)
      redis.call('PEXPIRE', k, math.ceil((limit - level) * 60000 / limit) + 1000)
    end
  elseif kind == 'c' then
    redis.call('ZREM', k, id)
  else
    local z, a = KEYS[key_index + 1], KEYS[key_index + 2]
    if redis.call('ZREM', z, id) == 1 then
      local held = tonumber(redis.call('HGET', a, id)) or 0
      redis.call('HINCRBY', k, 'r', string.format('%.0f', -held))
      redis.call('HDEL', a, id)
    end
    redis.call('HINCRBY', k, 's', string.format('%.0f', math.max(0, used)))
    if extra > 0 then
      redis.call('PEXPIREAT', k, extra + 86400000)
    end
  end
end

local pos = 2
for _ = 1, tonumber(ARGV[1]) do
  local id = ARGV[pos]
  local n = tonumber(ARGV[pos + 1])
  pos = pos + 2
  for _ = 1, n do
    settle(id, ARGV[pos], tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3]),
      tonumber(ARGV[pos + 4]), tonumber(ARGV[pos + 5]))
    pos = pos + 6
  end
end
return { 1 }
