import { LuaScript } from '../../redis/index.js';

/**
 * The atomic decisions on owned ids (notify client ids, SPEC.md §6). An id's key is a hash: field
 * `owner` is the principal that first took it; one field `i:<instance>` per instance whose
 * connections hold it, valued with the end of that hold's lease (Redis' own clock, so no skew
 * between instances). The key outlives every lease by the time the id stays owned after its last
 * connection, so an instance that dies without a word leaves the id owned for that long, then free.
 */
const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Takes the id: KEYS[1] its hash; ARGV mode (`claim`: only when free or already the principal's;
 * `share`: whoever owns it, as the access policy allowed), principal, holder field, hold ms (lease
 * plus the time the id stays owned after). An id without an owner becomes the principal's. Returns
 * the owner; the caller holds the id unless it was a `claim` and the owner is someone else.
 */
export const ACQUIRE_ID = new LuaScript(`${NOW}
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[2] and ARGV[1] == 'claim' then return owner end
if not owner then
  owner = ARGV[2]
  redis.call('HSET', KEYS[1], 'owner', owner)
end
local hold = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[3], now_ms() + hold)
if redis.call('PTTL', KEYS[1]) < hold then redis.call('PEXPIRE', KEYS[1], hold) end
return owner`);

/**
 * This instance holds the id no more: KEYS[1] its hash; ARGV holder field, keep ms. When no other
 * live lease holds it, the id stays owned for `keep` ms from now (0: it is free at once). Leases
 * that ended (their instance died) are dropped on the way. Returns 1 when it was the last hold.
 */
export const RELEASE_ID = new LuaScript(`${NOW}
redis.call('HDEL', KEYS[1], ARGV[1])
local now = now_ms()
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'i:' then
    if tonumber(fields[i + 1]) > now then return 0 end
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
local keep = tonumber(ARGV[2])
if keep > 0 then redis.call('PEXPIRE', KEYS[1], keep) else redis.call('DEL', KEYS[1]) end
return 1`);

/** An owned id's stream got an event: KEYS[1] its hash stays at least ARGV[1] ms more (an id nobody owns stays free). */
export const EXTEND_ID = new LuaScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and ttl < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return ttl`);
