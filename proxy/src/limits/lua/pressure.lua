-- Aether: what a provider key's answer says. KEYS: the key's cooldown, its adaptive
-- concurrency. ARGV: cooldown ms (0: none; a longer cooldown already there is kept),
-- pressure (t: throttled, s: succeeded, -: none), floor, ceiling.
-- The rules are those of LocalStore::cool and LocalStore::adapt.

local cool_ms = tonumber(ARGV[1])
if cool_ms > 0 and redis.call('PTTL', KEYS[1]) < cool_ms then
  redis.call('SET', KEYS[1], '1', 'PX', cool_ms)
end
local pressure = ARGV[2]
if pressure ~= '-' then
  local floor, ceiling = tonumber(ARGV[3]), tonumber(ARGV[4])
  local current = tonumber(redis.call('GET', KEYS[2])) or ceiling
  if pressure == 't' then
    current = math.max(floor, current / 2)
  else
    current = math.min(ceiling, current + 1 / math.max(1, current))
  end
  redis.call('SET', KEYS[2], tostring(current), 'PX', 3600000)
end
return { 1 }
