import { LuaScript } from '../redis/index.js';
import { FREE_MESSAGE_BYTES } from './checkpoint-store.js';

/**
 * The Redis store's scripts (SPEC.md §5). Each runs in the slot of one owner, where that owner's
 * sessions, their keys and its usage live, so a quota check and the write it guards are atomic under
 * any number of writers on any number of instances (and a Redis Cluster runs each in one slot).
 *
 * Every script starts with PRELUDE: KEYS[1] the owner's sessions (sorted set: id → expiry ms),
 * KEYS[2] its usage (hash: `total`, `<id>` bytes, `n:<id>` checkpoints), KEYS[3..6] the session's
 * info, order, meta and state keys; ARGV[1] the prefix of the owner's session keys, ARGV[2] the TTL
 * in ms (0: none), ARGV[3] the session id. The prelude forgets the owner's expired sessions (their
 * keys, and their share of the quota) before anything is checked, so an expired session never counts.
 * Every reply is `{code, purgedSessions, purgedCheckpoints, …}`; code -1: no such live session.
 * (Negative increments are written `0 - x`: Lua prints `-x` of a zero as `-0`, which HINCRBY refuses.)
 */
const PRELUDE = `
local sessions, usage, prefix, ttl, sid = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local SUFFIXES = {':info', ':order', ':meta', ':state'}
local purged_sessions, purged_checkpoints = 0, 0
for _, expired in ipairs(redis.call('ZRANGEBYSCORE', sessions, '-inf', now)) do
  local base = prefix .. expired
  redis.call('UNLINK', base .. ':info', base .. ':order', base .. ':meta', base .. ':state')
  redis.call('HINCRBY', usage, 'total', 0 - tonumber(redis.call('HGET', usage, expired) or '0'))
  purged_checkpoints = purged_checkpoints + tonumber(redis.call('HGET', usage, 'n:' .. expired) or '0')
  redis.call('HDEL', usage, expired, 'n:' .. expired)
  redis.call('ZREM', sessions, expired)
  purged_sessions = purged_sessions + 1
end
if purged_sessions > 0 and redis.call('ZCARD', sessions) == 0 then redis.call('DEL', usage) end
local live = redis.call('ZSCORE', sessions, sid) ~= false
local function reply(code, ...)
  return {code, purged_sessions, purged_checkpoints, ...}
end
-- A method was called on the session: its TTL starts again, on every key it has now.
local function refresh()
  if ttl <= 0 then return end
  redis.call('ZADD', sessions, now + ttl, sid)
  for _, suffix in ipairs(SUFFIXES) do redis.call('PEXPIRE', prefix .. sid .. suffix, ttl) end
end
local function answer(...)
  refresh()
  return reply(...)
end
-- The bytes of a checkpoint's message past the free ones count like its state's (checkpoint-store.ts).
local function message_excess(meta)
  if not meta then return 0 end
  local ok, decoded = pcall(cjson.decode, meta)
  if not ok or type(decoded) ~= 'table' or type(decoded.message) ~= 'string' then return 0 end
  return math.max(string.len(decoded.message) - ${FREE_MESSAGE_BYTES}, 0)
end
`;

const script = (body: string): LuaScript => new LuaScript(PRELUDE + body);

/** ARGV[4] name, [5] created_at, [6] the owner's session limit (-1: none). Code -1: too many sessions; else 1 and the expiry (-1: none). */
export const CREATE = script(`
local max = tonumber(ARGV[6])
if max >= 0 and redis.call('ZCARD', sessions) >= max then return reply(-1) end
redis.call('HSET', KEYS[3], 'name', ARGV[4], 'created_at', ARGV[5], 'sequence', 0)
redis.call('HSET', usage, sid, 0, 'n:' .. sid, 0)
redis.call('HINCRBY', usage, 'total', 0)
if ttl > 0 then
  return answer(1, now + ttl)
end
redis.call('ZADD', sessions, '+inf', sid)
return reply(1, -1)`);

/**
 * Appends a checkpoint under the session's next sequence. ARGV[4] its id, [5] its metadata, [6] its
 * state's JSON ('' for none: its length in bytes is what counts), [7] the session's checkpoint limit,
 * [8] the owner's byte limit (-1: none). Code -2: too many checkpoints, -3: over the byte quota; else the sequence.
 */
export const ADD = script(`
if not live then return reply(-1) end
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[7]) then return answer(-2) end
local bytes = string.len(ARGV[6]) + message_excess(ARGV[5])
local max = tonumber(ARGV[8])
if max >= 0 and tonumber(redis.call('HGET', usage, 'total') or '0') + bytes > max then return answer(-3) end
local sequence = redis.call('HINCRBY', KEYS[3], 'sequence', 1)
redis.call('ZADD', KEYS[4], sequence, ARGV[4])
redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[6], ARGV[4], ARGV[6])
redis.call('HINCRBY', usage, sid, bytes)
redis.call('HINCRBY', usage, 'n:' .. sid, 1)
redis.call('HINCRBY', usage, 'total', bytes)
return answer(sequence)`);

/** ARGV[4] the checkpoint id. Code 0: no such checkpoint; 1: deleted (its bytes given back). */
export const DELETE = script(`
if not live then return reply(-1) end
if redis.call('ZREM', KEYS[4], ARGV[4]) == 0 then return answer(0) end
local bytes = redis.call('HSTRLEN', KEYS[6], ARGV[4]) + message_excess(redis.call('HGET', KEYS[5], ARGV[4]))
redis.call('HDEL', KEYS[5], ARGV[4])
redis.call('HDEL', KEYS[6], ARGV[4])
redis.call('HINCRBY', usage, sid, 0 - bytes)
redis.call('HINCRBY', usage, 'n:' .. sid, -1)
redis.call('HINCRBY', usage, 'total', 0 - bytes)
return answer(1)`);

/** Keeps the newest ARGV[4]: code is how many remain, then how many were removed. */
export const COMPACT = script(`
if not live then return reply(-1) end
local excess = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[4])
local removed = 0
if excess > 0 then
  local ids = redis.call('ZRANGE', KEYS[4], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, excess - 1)
  local bytes = 0
  for _, id in ipairs(ids) do
    bytes = bytes + redis.call('HSTRLEN', KEYS[6], id) + message_excess(redis.call('HGET', KEYS[5], id))
    redis.call('HDEL', KEYS[5], id)
    redis.call('HDEL', KEYS[6], id)
  end
  removed = #ids
  redis.call('HINCRBY', usage, sid, 0 - bytes)
  redis.call('HINCRBY', usage, 'n:' .. sid, 0 - removed)
  redis.call('HINCRBY', usage, 'total', 0 - bytes)
end
return answer(redis.call('ZCARD', KEYS[4]), removed)`);

/** Code 1, then per checkpoint in sequence order its sequence and metadata. */
export const LIST = script(`
if not live then return reply(-1) end
local out = reply(1)
local ranked = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
for i = 1, #ranked, 2 do
  out[#out + 1] = ranked[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[5], ranked[i]) or '{}'
end
refresh()
return out`);

/** ARGV[4] the checkpoint id. Code 0: no such checkpoint; 1, then its sequence, metadata and state ('' for none). */
export const GET = script(`
if not live then return reply(-1) end
local sequence = redis.call('ZSCORE', KEYS[4], ARGV[4])
if not sequence then return answer(0) end
return answer(1, sequence, redis.call('HGET', KEYS[5], ARGV[4]) or '{}', redis.call('HGET', KEYS[6], ARGV[4]) or '')`);

/** A method call that reads nothing (subscribe): code 1. */
export const TOUCH = script(`
if not live then return reply(-1) end
return answer(1)`);

/** For the sweep (KEYS[1..2] only): purges the owner's expired sessions; code is the session's expiry, or -1 when it is gone. */
export const SWEEP = script(`
local score = redis.call('ZSCORE', sessions, sid)
if not score then return reply(-1) end
return reply(tonumber(score))`);
