/**
 * SPEC §6: one atomic step for every cache mutation. Preconditions first — the cache generation the
 * caller read (another replica or the sync cycle may have written since) and, for a local write,
 * the submit queue's capacity — then every write, or none. KEYS are all the keys touched (one hash
 * tag); ARGV[1] is `{ gen, capacity?, pushes?, queue?, ops }` (the queue refuses the step when its
 * length plus the `pushes` it appends would pass `capacity`), each op `[name, keyIndex, ...args]` (1-based).
 * Returns 'ok', 'conflict' or 'queue_full'.
 */
export const CAS_APPLY_LUA = `
local plan = cjson.decode(ARGV[1])
local meta = KEYS[1]
local gen = redis.call('HGET', meta, 'gen') or '0'
if plan.gen ~= false and plan.gen ~= gen then return 'conflict' end
if plan.queue then
  local queueKey = KEYS[plan.queue]
  if redis.call('LLEN', queueKey) + plan.pushes > plan.capacity then return 'queue_full' end
end
for _, op in ipairs(plan.ops) do
  local name, key = op[1], KEYS[op[2]]
  if name == 'hset' then redis.call('HSET', key, op[3], op[4])
  elseif name == 'hdel' then redis.call('HDEL', key, op[3])
  elseif name == 'zadd' then redis.call('ZADD', key, 0, op[3])
  elseif name == 'zrem' then redis.call('ZREM', key, op[3])
  elseif name == 'zadds' then redis.call('ZADD', key, op[3], op[4])
  elseif name == 'del' then redis.call('DEL', key)
  elseif name == 'unlink' then redis.call('UNLINK', key)
  elseif name == 'sadd' then redis.call('SADD', key, op[3])
  elseif name == 'srem' then redis.call('SREM', key, op[3])
  elseif name == 'rpush' then redis.call('RPUSH', key, op[3])
  elseif name == 'lpush' then redis.call('LPUSH', key, op[3]); redis.call('LTRIM', key, 0, op[4] - 1)
  elseif name == 'ltrim' then redis.call('LTRIM', key, op[3], -1)
  elseif name == 'ackmove' then
    -- the queue's head entries up to the last decided seq (op[7..]) move to the acknowledged set
    -- (op[3]), stamped op[4] — none queued after it, should a cycle whose lock lapsed have taken them
    -- already; then those acknowledged before op[5] and all but the newest op[6] go. A queue entry's
    -- JSON starts with its seq.
    local acked, n = KEYS[op[3]], #op - 6
    local last, moved = op[6 + n], 0
    for _, raw in ipairs(redis.call('LRANGE', key, 0, n - 1)) do
      local seq = tonumber(string.match(raw, '^{"seq":(%d+)')) or cjson.decode(raw).seq
      if seq > last then break end
      redis.call('ZADD', acked, seq, op[4] .. '|' .. raw)
      moved = moved + 1
    end
    if moved > 0 then redis.call('LTRIM', key, moved, -1) end
    local old, drop = redis.call('ZRANGE', acked, 0, n + 99), 0
    for _, m in ipairs(old) do
      if tonumber(string.sub(m, 1, string.find(m, '|', 1, true) - 1)) >= op[5] then break end
      drop = drop + 1
    end
    if drop > 0 then redis.call('ZREMRANGEBYRANK', acked, 0, drop - 1) end
    redis.call('ZREMRANGEBYRANK', acked, 0, -op[6] - 1)
  elseif name == 'hincr' then
    if redis.call('HINCRBY', key, op[3], op[4]) <= 0 then redis.call('HDEL', key, op[3]) end
  else return redis.error_reply('unknown op ' .. tostring(name)) end
end
redis.call('HINCRBY', meta, 'gen', 1)
return 'ok'
`;
