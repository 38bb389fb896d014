-- Aether: extend leases and budget reservations that their requests still hold.
-- KEYS: sorted sets; ARGV: lease_ms, then one holder per key. A member that is gone (its
-- request settled, or its lease lapsed and was reclaimed) is not brought back.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', 'GT', until_ms, ARGV[i + 1])
  -- A lease set outlives its leases by one lease time; a budget's sets keep their period's.
  local ttl = redis.call('PTTL', key)
  if ttl >= 0 and ttl < 2 * tonumber(ARGV[1]) then
    redis.call('PEXPIRE', key, 2 * tonumber(ARGV[1]))
  end
end
return { 1 }
