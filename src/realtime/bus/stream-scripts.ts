import { LuaScript } from '../redis/lua-script.js';

/**
 * Publishes one event to its streams, atomically (as Centrifugo's broker does): per stream, the
 * offset is incremented (the epoch made when the stream has none), the event appended to the
 * stream's history (trimmed by size and age) when history is on, and the payload published on the
 * stream's shard channel. Every key and channel of one call shares a hash slot.
 *
 * KEYS: per stream, its meta hash then its history stream.
 * ARGV: [1] frame head (the JSON object without its closing brace, a separator included when it has
 * fields), [2] style (`flat`, `map` or `none`: what `withPositions` adds), [3] envelope head (JSON
 * object without its closing brace), [4] history size (0: none), [5] history TTL ms, [6] meta TTL ms,
 * [7] epoch for a stream that has none, then the streams' topics, then their channels.
 * Returns the published payload: `envelope` with `"p"` (positions), a newline, the frame.
 */
export const PUBLISH_TO_STREAMS = new LuaScript(`
local style, size, ttl, metaTtl = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local count = #KEYS / 2
local positions = {}
for i = 1, count do
  local meta = KEYS[2 * i - 1]
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    -- A new life of the stream: what an older one left in its history is not part of it.
    epoch = ARGV[7]
    redis.call('HSET', meta, 'epoch', epoch)
    redis.call('DEL', KEYS[2 * i])
  end
  local offset = redis.call('HINCRBY', meta, 'offset', 1)
  redis.call('PEXPIRE', meta, metaTtl)
  positions[i] = cjson.encode(ARGV[7 + i]) .. ':{"offset":' .. offset .. ',"epoch":' .. cjson.encode(epoch) .. '}'
end
local suffix = ''
if style == 'flat' then
  local first = positions[1]
  local colon = string.find(first, ':{"offset":', 1, true)
  suffix = '"stream":' .. string.sub(first, 1, colon - 1) .. ',' .. string.sub(first, colon + 2, -2)
elseif style == 'map' then
  suffix = '"positions":{' .. table.concat(positions, ',') .. '}'
end
local payload = ARGV[3] .. ',"p":{' .. table.concat(positions, ',') .. '}}\\n' .. ARGV[1] .. suffix .. '}'
if size > 0 then
  local now = redis.call('TIME')
  local minId = (tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)) - ttl
  for i = 1, count do
    local history = KEYS[2 * i]
    local offset = string.match(positions[i], ':{"offset":(%d+),')
    redis.call('XADD', history, 'MAXLEN', size, '*', 'o', offset, 'p', payload)
    redis.call('XTRIM', history, 'MINID', minId)
    redis.call('PEXPIRE', history, ttl)
  end
end
for i = 1, count do
  redis.call('SPUBLISH', ARGV[7 + count + i], payload)
end
return payload
`);

/**
 * Reads one stream: its position (made with a new epoch when it has none), and its retained
 * payloads after a position.
 *
 * KEYS: [1] meta hash, [2] history stream.
 * ARGV: [1] mode: `resume` (every event after the position of epoch [3], or not recovered) or `list`
 * (the retained events after offset [2], at most [6]), [2] offset ('' for none), [3] epoch,
 * [4] history TTL ms, [5] meta TTL ms, [6] limit, [7] epoch for a stream that has none.
 * Returns `{epoch, offset, recovered (0|1), payload…}`.
 */
export const READ_STREAM = new LuaScript(`
local meta, history = KEYS[1], KEYS[2]
local mode, ttl, limit = ARGV[1], tonumber(ARGV[4]), tonumber(ARGV[6])
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = ARGV[7]
  redis.call('HSET', meta, 'epoch', epoch)
  redis.call('DEL', history)
end
redis.call('PEXPIRE', meta, ARGV[5])
local offset = tonumber(redis.call('HGET', meta, 'offset') or '0')
local result = {epoch, offset, 0}
if ARGV[2] == '' or (mode == 'resume' and ARGV[3] ~= epoch) then return result end
local since = tonumber(ARGV[2])
if since > offset then return result end
local now = redis.call('TIME')
local minId = (tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)) - ttl
if mode == 'list' then
  for _, entry in ipairs(redis.call('XRANGE', history, minId, '+')) do
    if #result >= limit + 3 then break end
    if tonumber(entry[2][2]) > since then result[#result + 1] = entry[2][4] end
  end
  result[3] = 1
  return result
end
local missed = offset - since
if missed == 0 then
  result[3] = 1
  return result
end
if missed > limit then return result end
local entries = redis.call('XREVRANGE', history, '+', minId, 'COUNT', missed)
if #entries < missed or tonumber(entries[#entries][2][2]) ~= since + 1 then return result end
result[3] = 1
for i = #entries, 1, -1 do result[#result + 1] = entries[i][2][4] end
return result
`);
