/**
 * SPEC §6: one atomic step for every cache mutation. Preconditions first — the cache generation the
 * caller read (another replica or the sync cycle may have written since) and, for a local write,
 * the submit queue's capacity — then every write, or none. KEYS are all the keys touched (one hash
 * tag); ARGV[1] is `{ gen, capacity?, pushes?, queue?, ops }` (the queue refuses the step when its
 * length plus the `pushes` it appends would pass `capacity`), each op `[name, keyIndex, ...args]` (1-based).
 * Returns 'ok', 'conflict' or 'queue_full'.
 */
export const CAS_APPLY_LUA = `
-- SPEC §11: the acknowledged changes decided before cutoff go, and all but the newest max.
local function trimAcked(acked, refused, times, cutoff, max)
  local old = redis.call('ZRANGEBYSCORE', times, '-inf', '(' .. cutoff)
  if #old > 0 then
    local upto = 0
    for _, m in ipairs(old) do upto = math.max(upto, tonumber(m)) end
    redis.call('ZREMRANGEBYSCORE', acked, '-inf', upto)
    redis.call('ZREMRANGEBYSCORE', refused, '-inf', upto)
    redis.call('ZREMRANGEBYSCORE', times, '-inf', '(' .. cutoff)
  end
  local over = redis.call('ZCARD', acked) - max
  if over > 0 then
    local edge = redis.call('ZRANGE', acked, over - 1, over - 1, 'WITHSCORES')[2]
    redis.call('ZREMRANGEBYRANK', acked, 0, over - 1)
    redis.call('ZREMRANGEBYSCORE', refused, '-inf', edge)
  end
end
local plan = cjson.decode(ARGV[1])
local meta = KEYS[1]
local gen = redis.call('HGET', meta, 'gen') or '0'
if plan.gen ~= false and plan.gen ~= gen then return 'conflict' end
if plan.epoch ~= false and plan.epoch ~= redis.call('HGET', meta, 'epoch') then return 'conflict' end
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
  elseif name == 'ackmove' then
    -- [_, queue, acked, refused, times, now, cutoff, max, seq | 'seq:code' ...]: the queue's head
    -- entries up to the last decided seq move to the acknowledged set — none queued after it, should
    -- a cycle whose lock lapsed have taken them already; those refused at first also go to refused
    -- with their code; the batch's last seq is stamped now in times. A queue entry's JSON starts
    -- with its seq.
    local acked, refused, times, n = KEYS[op[3]], KEYS[op[4]], KEYS[op[5]], #op - 8
    local codes, last = {}, 0
    for i = 9, #op do
      local seq = op[i]
      if type(seq) == 'string' then
        local s, code = string.match(seq, '^(%d+):(.+)$')
        seq = tonumber(s)
        codes[seq] = code
      end
      if seq > last then last = seq end
    end
    local adds, refusals = {}, {}
    for _, raw in ipairs(redis.call('LRANGE', key, 0, n - 1)) do
      local seq = tonumber(string.match(raw, '^{"seq":(%d+)')) or cjson.decode(raw).seq
      if seq > last then break end
      adds[#adds + 1] = seq
      adds[#adds + 1] = raw
      if codes[seq] then
        refusals[#refusals + 1] = seq
        refusals[#refusals + 1] = seq .. ':' .. codes[seq]
      end
    end
    if #adds > 0 then
      redis.call('ZADD', acked, unpack(adds))
      if #refusals > 0 then redis.call('ZADD', refused, unpack(refusals)) end
      redis.call('LTRIM', key, #adds / 2, -1)
      redis.call('ZADD', times, op[6], last)
    end
    trimAcked(acked, refused, times, op[7], op[8])
  elseif name == 'acktrim' then
    trimAcked(key, KEYS[op[3]], KEYS[op[4]], op[5], op[6])
  elseif name == 'hincr' then
    if redis.call('HINCRBY', key, op[3], op[4]) <= 0 then redis.call('HDEL', key, op[3]) end
  else return redis.error_reply('unknown op ' .. tostring(name)) end
end
redis.call('HINCRBY', meta, 'gen', 1)
return 'ok'
`;

/**
 * SPEC §7, §11: the site's queue goes on under a new epoch, renumbered from seq 1 in its order — in
 * one script, so no writer or crash sees half of it. KEYS: meta, queue, acked, ackRefused, ackTimes,
 * pendingObjects, pendingDomains, status. ARGV: the new epoch; the epoch it replaces (anything else in
 * force: 'conflict'); `carryAfter` — when not -1, the acknowledged changes kept after that seq, but
 * those refused at first, go first (DomainDB lost them with a range before them that the site no
 * longer keeps: they are new changes to it now, and pending again here); and a status field and a
 * JSON object to record there with `requeued` set to how many were carried ('' for none). Entries
 * are renumbered by their JSON text (it starts with `{"seq":N`), never decoded and encoded again
 * (cjson would turn `[]` into `{}`). What was acknowledged under the old epoch is dropped. Returns
 * [queue length, carried] or 'conflict'.
 */
export const RESTART_EPOCH_LUA = `
local meta, queue, acked, refused, times, pobj, pdom, status = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local epoch, was, after, field, record = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
if redis.call('HGET', meta, 'epoch') ~= was then return 'conflict' end
-- everything read, decoded and renumbered first: a bad entry refuses the step before anything is written
local out, n, touched, carried = {}, 0, {}, 0
local function renumber(raw)
  local _, last = string.find(raw, '^{"seq":%d+')
  if not last then return false end
  n = n + 1
  out[n] = '{"seq":' .. n .. string.sub(raw, last + 1)
  return true
end
if after >= 0 then
  local skip = {}
  for _, r in ipairs(redis.call('ZRANGEBYSCORE', refused, '(' .. after, '+inf')) do
    skip[tonumber(string.match(r, '^(%d+):'))] = true
  end
  for _, raw in ipairs(redis.call('ZRANGEBYSCORE', acked, '(' .. after, '+inf')) do
    if not skip[tonumber(string.match(raw, '^{"seq":(%d+)') or -1)] then
      local ok, e = pcall(cjson.decode, raw)
      if not ok or type(e.ids) ~= 'table' or type(e.domains) ~= 'table' or not renumber(raw) then
        return redis.error_reply('a kept entry that is not a queue entry')
      end
      touched[#touched + 1] = e
      carried = carried + 1
    end
  end
end
for _, raw in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  if not renumber(raw) then return redis.error_reply('a queue entry that does not start with its seq') end
end
for _, e in ipairs(touched) do
  for _, id in ipairs(e.ids) do redis.call('HINCRBY', pobj, id, 1) end
  for _, d in ipairs(e.domains) do redis.call('HINCRBY', pdom, d, 1) end
end
redis.call('DEL', queue, acked, refused, times)
for i = 1, n, 1000 do redis.call('RPUSH', queue, unpack(out, i, math.min(i + 999, n))) end
redis.call('HSET', meta, 'epoch', epoch, 'seq', n)
if field ~= '' then
  local value = cjson.decode(record)
  value.requeued = carried
  redis.call('HSET', status, field, cjson.encode(value))
end
redis.call('HINCRBY', meta, 'gen', 1)
return {n, carried}
`;
