-- Aether: check and take every limit of one request in one step, or none.
-- The rules are those of proxy/src/limits/local.rs, step for step; the clock is the server's.
--
-- ARGV: id, lease_ms, then the client's takes: n, n × (kind, key index, limit, amount,
-- extra), then the candidate keys: m, m × (cooldown key index, scope, t, t × take), then
-- the client's affinity: its key index (0: none), lifetime in ms and tier (how many leading
-- candidates it may choose among). The candidate whose scope the affinity names, if within
-- the tier, is tried first, then the others in order; the one taken becomes the affinity.
-- kind: r (rate), c (lease), b (budget). extra: budgets, when the period ends (Unix ms, 0:
-- never); leases, the index of the adaptive concurrency's key (0: none); rates, unused.
-- Budget keys are three in a row: the sums (s = spent, r = reserved), the reservations'
-- expiries (a sorted set) and their amounts (a hash). Leases carry the adaptive floor in
-- their amount's place (the amount of a lease is always 1).
--
-- Returns {1, chosen, skips...} (chosen: 1-based candidate, 0 for none),
-- {0, take, retry_ms, remaining} (a client take refused), or {2, retry_ms, skips...}
-- (every candidate key cooling down or full); skips are (candidate, reason, retry_ms)
-- triples, reason 1 = cooling down, 2 = full.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local lease_ms = tonumber(ARGV[2])
local pos = 3

local function read_take()
  local take = {
    kind = ARGV[pos],
    key = tonumber(ARGV[pos + 1]),
    limit = tonumber(ARGV[pos + 2]),
    amount = tonumber(ARGV[pos + 3]),
    extra = tonumber(ARGV[pos + 4]),
  }
  pos = pos + 5
  return take
end

local function check(x)
  local k = KEYS[x.key]
  if x.kind == 'r' then
    local s = redis.call('HMGET', k, 'l', 't')
    local level, at = tonumber(s[1]), tonumber(s[2])
    if level == nil then
      level = x.limit
    else
      level = math.min(x.limit, level + math.max(0, now - at) * x.limit / 60000)
    end
    x.level = level
    local need = math.min(x.amount, x.limit)
    if level >= need then
      return true, 0, math.max(0, math.floor(level - x.amount))
    end
    return false, math.ceil((need - level) * 60000 / x.limit), math.max(0, math.floor(level))
  elseif x.kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
    local limit = x.limit
    if x.extra > 0 then
      local a = tonumber(redis.call('GET', KEYS[x.extra]))
      if a ~= nil then
        limit = math.max(1, math.min(limit, math.max(math.floor(a), x.amount)))
      end
    end
    local held = redis.call('ZCARD', k)
    if held < limit then
      return true, 0, limit - held - 1
    end
    return false, 1000, 0
  else
    local z, a = KEYS[x.key + 1], KEYS[x.key + 2]
    local lapsed = redis.call('ZRANGEBYSCORE', z, '-inf', now)
    for _, rid in ipairs(lapsed) do
      local amount = tonumber(redis.call('HGET', a, rid)) or 0
      redis.call('HINCRBY', k, 'r', string.format('%.0f', -amount))
      redis.call('HDEL', a, rid)
      redis.call('ZREM', z, rid)
    end
    local s = redis.call('HMGET', k, 's', 'r')
    local left = x.limit - (tonumber(s[1]) or 0) - (tonumber(s[2]) or 0)
    if x.amount <= left then
      return true, 0, left - x.amount
    end
    local retry = 0
    if x.extra > 0 then
      retry = math.max(0, x.extra - now)
    end
    return false, retry, math.max(0, left)
  end
end

local function apply(x)
  local k = KEYS[x.key]
  if x.kind == 'r' then
    local level = x.level - x.amount
    redis.call('HSET', k, 'l', tostring(level), 't', now)
    -- Gone once it would be full again: an absent bucket is a full one.
    redis.call('PEXPIRE', k, math.ceil((x.limit - level) * 60000 / x.limit) + 1000)
  elseif x.kind == 'c' then
    redis.call('ZADD', k, now + lease_ms, id)
    redis.call('PEXPIRE', k, lease_ms * 2)
  else
    local z, a = KEYS[x.key + 1], KEYS[x.key + 2]
    local amount = string.format('%.0f', x.amount)
    redis.call('HINCRBY', k, 'r', amount)
    redis.call('ZADD', z, now + lease_ms, id)
    redis.call('HSET', a, id, amount)
    if x.extra > 0 then
      for _, key in ipairs({k, z, a}) do
        redis.call('PEXPIREAT', key, x.extra + 86400000)
      end
    end
  end
end

local client = {}
local n = tonumber(ARGV[pos])
pos = pos + 1
for i = 1, n do
  client[i] = read_take()
end
local candidates = {}
local m = tonumber(ARGV[pos])
pos = pos + 1
for c = 1, m do
  local cool = tonumber(ARGV[pos])
  local scope = ARGV[pos + 1]
  local n = tonumber(ARGV[pos + 2])
  pos = pos + 3
  local takes = {}
  for i = 1, n do
    takes[i] = read_take()
  end
  candidates[c] = { cool = cool, scope = scope, takes = takes }
end
local affinity, affinity_ms, tier = tonumber(ARGV[pos]), tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2])
local order = {}
local preferred = 0
if affinity > 0 then
  local scope = redis.call('GET', KEYS[affinity])
  if scope then
    for c, cand in ipairs(candidates) do
      if c <= tier and cand.scope == scope then
        preferred = c
      end
    end
  end
end
if preferred > 0 then
  table.insert(order, preferred)
end
for c = 1, m do
  if c ~= preferred then
    table.insert(order, c)
  end
end

for i, x in ipairs(client) do
  local ok, retry, remaining = check(x)
  if not ok then
    return { 0, i, retry, remaining }
  end
end

local skips = {}
local chosen = 0
local soonest = -1
for _, c in ipairs(order) do
  local cand = candidates[c]
  local reason, retry = 0, 0
  local ttl = redis.call('PTTL', KEYS[cand.cool])
  if ttl > 0 then
    reason, retry = 1, ttl
  else
    for _, x in ipairs(cand.takes) do
      local ok, r = check(x)
      if not ok then
        reason, retry = 2, r
        break
      end
    end
  end
  if reason == 0 then
    chosen = c
    break
  end
  table.insert(skips, c)
  table.insert(skips, reason)
  table.insert(skips, retry)
  if soonest < 0 or retry < soonest then
    soonest = retry
  end
end

if m > 0 and chosen == 0 then
  local out = { 2, soonest }
  for _, v in ipairs(skips) do
    table.insert(out, v)
  end
  return out
end
for _, x in ipairs(client) do
  apply(x)
end
if chosen > 0 then
  for _, x in ipairs(candidates[chosen].takes) do
    apply(x)
  end
  if affinity > 0 then
    redis.call('SET', KEYS[affinity], candidates[chosen].scope, 'PX', affinity_ms)
  end
end
local out = { 1, chosen }
for _, v in ipairs(skips) do
  table.insert(out, v)
end
return out
