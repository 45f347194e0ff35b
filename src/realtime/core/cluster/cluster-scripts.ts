import { LuaScript } from '../../redis/index.js';

/**
 * The cluster's atomic decisions (SPEC.md §9 "both hold under races"). Each script touches one
 * hash whose fields are instance ids and whose values are leases, `count:leaseEndMs`, stamped with
 * Redis' own clock (no skew between instances). A slot lease that has ended is an instance that
 * stopped renewing (it died): it no longer counts, and is dropped by whichever script reads it next.
 */
const LEASES = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The sum of the live leases of every holder but self; ended ones are removed on the way.
local function others_live(key, self, now)
  local total = 0
  local entries = redis.call('HGETALL', key)
  for i = 1, #entries, 2 do
    local holder, lease = entries[i], entries[i + 1]
    local sep = string.find(lease, ':', 1, true)
    if tonumber(string.sub(lease, sep + 1)) <= now then
      redis.call('HDEL', key, holder)
    elseif holder ~= self then
      total = total + tonumber(string.sub(lease, 1, sep - 1))
    end
  end
  return total
end
-- The key outlives the lease it is given (and any longer one written before).
local function hold(key, self, count, now, lease_ms)
  redis.call('HSET', key, self, count .. ':' .. (now + lease_ms))
  if redis.call('PTTL', key) < lease_ms then redis.call('PEXPIRE', key, lease_ms) end
end
`;

/**
 * Takes a connection slot: KEYS[1] a user's slots; ARGV self, own count with the new connection,
 * limit, lease ms. Returns `{1, others}` when admitted (own count written), `{0, others}` when not.
 */
export const CLAIM_SLOT = new LuaScript(`${LEASES}
local now = now_ms()
local others = others_live(KEYS[1], ARGV[1], now)
if others + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return {0, others} end
hold(KEYS[1], ARGV[1], tonumber(ARGV[2]), now, tonumber(ARGV[4]))
return {1, others}`);

/** Writes (or, for 0, removes) this instance's lease: KEYS[1]; ARGV self, count, lease ms. */
export const HOLD = new LuaScript(`${LEASES}
if tonumber(ARGV[2]) == 0 then return redis.call('HDEL', KEYS[1], ARGV[1]) end
hold(KEYS[1], ARGV[1], tonumber(ARGV[2]), now_ms(), tonumber(ARGV[3]))
return 1`);

/**
 * Presence leases are long (ARGV ttl: 4 slot leases, 2.4 × heartbeatTimeoutMs), so that a dead
 * instance's users stay present until a survivor's reaper (within 0.8 ×) removes them and tells who
 * is gone; an entry no reaper removed (its instance died between the script and its index write)
 * ends with its lease. ENTER and LEAVE read only the (topic, user) hash: O(instances holding it).
 */

/** A user enters a topic here: KEYS[1] its presence; ARGV self, ttl ms. 1 when no other instance has it. */
export const ENTER = new LuaScript(`${LEASES}
local now = now_ms()
local others = others_live(KEYS[1], ARGV[1], now)
hold(KEYS[1], ARGV[1], 1, now, tonumber(ARGV[2]))
if others == 0 then return 1 end
return 0`);

/**
 * A user leaves a topic on instance ARGV[1]: KEYS[1] its presence; ARGV[2] the mode. 1 when it is
 * gone from the whole cluster and must be announced: `leave` (its last tab there left) whenever no
 * other instance holds it; `reap` (the instance died) only if this call removed the entry, so that
 * concurrent reapers announce once; `silent` never (already announced while Redis was away).
 */
export const LEAVE = new LuaScript(`${LEASES}
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if others_live(KEYS[1], ARGV[1], now_ms()) > 0 or ARGV[2] == 'silent' then return 0 end
if ARGV[2] == 'reap' and removed == 0 then return 0 end
return 1`);

export type LeaveMode = 'leave' | 'reap' | 'silent';
