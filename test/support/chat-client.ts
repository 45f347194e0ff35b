import {
  hostileFrames,
  int,
  j,
  pick,
  randomText,
  type Categories,
  type HostileCase,
  type Rng,
} from './hostile-frames.js';
import type { Frame } from './test-client.js';

/**
 * Helpers for the chat gateway's e2e tests (SPEC §3): its exact error frame, and what the
 * hostile-frame generator (test/support/hostile-frames.ts) needs to know of this gateway.
 */

export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The room every connection of a hostile test joins: hostile frames aim at it. */
export const HOSTILE_ROOM = 'channel:1';

/** The chat error code SPEC §3 prescribes (`either` where 4400 and 4403 are both defensible) and its wording. */
export interface ChatError {
  code: 4400 | 4403 | 'either';
  error: RegExp;
}
export type ChatCase = HostileCase<ChatError>;

const refusedWith = (error: RegExp): ChatError => ({ code: 4400, error });

const hostile = hostileFrames<ChatError>({ minimal: '{"type":"ping"}', word: 'ping' });

const VALID_FRAMES = [
  j({ type: 'ping' }),
  j({ type: 'join_room', room: 'channel:42' }),
  j({ type: 'send_message', room: HOSTILE_ROOM, data: { content: 'hostile: should never be delivered' } }),
  j({ type: 'ping', data: { nested: [1, 2, { deeper: ['é', '🏓', null, true, 1.5e300] }] } }),
];

const NON_STRINGS = hostile.nonStrings();

function unknownType(rng: Rng): ChatCase {
  const type = hostile.unknownName(rng, {
    also: 'join_room',
    server: ['pong', 'room_joined', 'message', 'error', 'connected', 'user_joined'],
    real: ['join_room', 'leave_room', 'send_message', 'ping'],
    long: true,
  });
  return { kind: 'unknown type', payload: j({ type, room: 'channel:1' }), ...refusedWith(/type/i) };
}

function wrongRoomType(rng: Rng): ChatCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const room = pick(rng, [...NON_STRINGS.filter((v) => v !== 'null'), '["channel:1"]', '{"toString":"channel:1"}']);
  const data = type === 'send_message' ? ',"data":{"content":"x"}' : '';
  return {
    kind: `${type} with room ${room.slice(0, 20)}`,
    payload: `{"type":"${type}","room":${room}${data}}`,
    code: 4400,
    error: /room/i,
  };
}

function missingRoom(rng: Rng): ChatCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const room = rng() < 0.5 ? '' : ',"room":null';
  const data = type === 'send_message' ? ',"data":{"content":"x"}' : '';
  return { kind: `${type} without room`, payload: `{"type":"${type}"${room}${data}}`, code: 4400, error: /room/i };
}

const BAD_ROOMS = [
  'channel:',
  ':1',
  'channel',
  'channel:-1',
  'channel:1.5',
  'channel: 1',
  ' channel:1',
  'channel:1 ',
  'channel:1\n',
  'Channel:1',
  'CHANNEL:1',
  'channel:١٢٣',
  'channel:１',
  'channel:1:2',
  'channel:0x1',
  'project:1e3',
  'task:+1',
  `channel:${'9'.repeat(21)}`,
  'user:1',
  'user:hostile',
  'room:1',
  '__proto__:1',
  'constructor:1',
  'channel:1\u0000',
  'channel:🏓',
  'chаnnel:1',
];

function badRoom(rng: Rng): ChatCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const room =
    rng() < 0.85 ? pick(rng, BAD_ROOMS) : `${pick(rng, ['channel', 'task', 'project'])}:${randomText(rng, 10)}`;
  const code = /^(channel|project|task):\d{1,20}$/.test(room) ? null : 4403;
  if (code === null) return badRoom(rng);
  const frame: Frame = { type, room };
  if (type === 'send_message') frame.data = { content: 'x' };
  return { kind: `${type} to ${JSON.stringify(room)}`, payload: j(frame), code: 4403, error: /room/i };
}

function emptyRoom(rng: Rng): ChatCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const frame: Frame = { type, room: '' };
  if (type === 'send_message') frame.data = { content: 'x' };
  return { kind: `${type} to ""`, payload: j(frame), code: 'either', error: /room/i };
}

function notJoined(rng: Rng): ChatCase {
  const room = `${pick(rng, ['channel', 'project', 'task'])}:${int(rng, 2, 999_999)}`;
  return {
    kind: `send to ${room} not joined`,
    payload: j({ type: 'send_message', room, data: { content: 'x' } }),
    code: 4403,
    error: /member|room/i,
  };
}

function badData(rng: Rng): ChatCase {
  const data = pick(rng, [
    '',
    ',"data":null',
    ',"data":"content"',
    ',"data":5',
    ',"data":true',
    ',"data":[]',
    ',"data":[{"content":"x"}]',
    ',"data":{}',
    ',"data":{"Content":"x"}',
    ',"data":{"content":null}',
    ',"data":{"content":5}',
    ',"data":{"content":1e400}',
    `,"data":{"content":1${'0'.repeat(310)}}`,
    ',"data":{"content":true}',
    ',"data":{"content":[]}',
    ',"data":{"content":["x"]}',
    ',"data":{"content":{}}',
    ',"data":{"content":{"length":1}}',
    ',"data":{"content":""}',
    `,"data":{"content":"${'x'.repeat(4001)}"}`,
    `,"data":{"content":"${'🏓'.repeat(2001)}"}`,
  ]);
  return {
    kind: `send_message data ${data.slice(0, 30)}`,
    payload: `{"type":"send_message","room":"${HOSTILE_ROOM}"${data}}`,
    code: 4400,
    error: /content/,
  };
}

const CATEGORIES: Categories<ChatError> = [
  [
    3,
    hostile.invalidJson(
      `{"type":"send_message","room":"channel:1","data":{"content":'x'}}`,
      refusedWith(/Invalid JSON/),
    ),
  ],
  [3, hostile.truncatedJson(VALID_FRAMES, refusedWith(/Invalid JSON/))],
  [
    2,
    hostile.tooDeep(
      {
        frame: (rng, data) =>
          `{"type":"${pick(rng, ['ping', 'join_room', 'send_message'])}","room":"${HOSTILE_ROOM}","data":${data}}`,
      },
      refusedWith(/nested|deep|depth/i),
    ),
  ],
  [
    4,
    hostile.hostileKey(
      {
        bases: [
          `"type":"ping"`,
          `"type":"join_room","room":"channel:7"`,
          `"type":"send_message","room":"${HOSTILE_ROOM}"`,
        ],
        values: () => ['{"isAdmin":true}', '{}', '[]', '1', '{"polluted":"yes"}', 'null'],
        rest: (_rng, base, key) => (base.includes('send_message') ? `,"data":{"content":"via ${key}"}` : ''),
        holder: (rng, spelled, value, key) =>
          rng() < 0.5 ? `{"content":"via ${key}","${spelled}":${value}}` : `{"${spelled}":${value},"content":"x"}`,
      },
      (key) => refusedWith(new RegExp(key)),
    ),
  ],
  [
    3,
    hostile.wrongType({
      missing: ['{}', '{"room":"channel:1"}', '{"data":{"content":"x"}}', ...hostile.misspelledType],
      missingBelow: 0.15,
      nonString: (value) => `{"type":${value},"room":"channel:1","data":{"content":"x"}}`,
      nonStrings: NON_STRINGS,
      nonStringBelow: 0.5,
      expected: { missing: refusedWith(/type/i), nonString: refusedWith(/type/i) },
      badString: unknownType,
    }),
  ],
  [2, wrongRoomType],
  [1, missingRoom],
  [2, badRoom],
  [0.3, emptyRoom],
  [1, notJoined],
  [2, badData],
  [1, hostile.notAnObject(refusedWith(/object/))],
  [
    1.5,
    hostile.binary(
      [() => j({ type: 'ping' }), () => j({ type: 'send_message', room: HOSTILE_ROOM, data: { content: 'binary' } })],
      refusedWith(/Binary/i),
    ),
  ],
];

/** `count` hostile frames for a chat connection that joined HOSTILE_ROOM; same seed, same frames. */
export function chatBarrage(seed: number, count: number): ChatCase[] {
  return hostile.barrage(seed, count, CATEGORIES);
}

/** Throws unless `frame` is exactly a chat error frame with `code` and an error matching `error`. */
export function expectChatError(frame: Frame, code: 4400 | 4403 | 'either' | 4429, error: RegExp, label: string): void {
  const codes = code === 'either' ? [4400, 4403] : [code];
  const ok =
    frame.type === 'error' &&
    codes.includes(frame.data?.code) &&
    typeof frame.data?.error === 'string' &&
    error.test(frame.data.error) &&
    ISO_MS.test(frame.timestamp) &&
    Object.keys(frame).sort().join() === 'data,timestamp,type' &&
    Object.keys(frame.data).sort().join() === 'code,error';
  if (!ok)
    throw new Error(`${label}: expected chat error ${codes.join('|')} ${error} but got ${JSON.stringify(frame)}`);
}
