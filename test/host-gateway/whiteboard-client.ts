import { hostileFrames, j, type Categories, type HostileCase } from '../support/hostile-frames.js';

/** What the example gateway answers a hostile frame with: its error frame, code 4400, and this wording. */
export type WhiteboardCase = HostileCase<{ error: RegExp }>;

const hostile = hostileFrames<{ error: RegExp }>({ minimal: '{"type":"ping"}', word: 'ping' });
const refused = (error: RegExp): { error: RegExp } => ({ error });

const VALID = [j({ type: 'ping' }), j({ type: 'join' }), j({ type: 'move', x: 1, y: 2 })];

const CATEGORIES: Categories<{ error: RegExp }> = [
  [3, hostile.invalidJson(`{"type":"move","x":1,"y":'2'}`, refused(/^Invalid JSON$/))],
  [3, hostile.truncatedJson(VALID, refused(/^Invalid JSON$/))],
  [
    2,
    hostile.tooDeep({ frame: (_rng, data) => `{"type":"move","x":1,"y":1,"data":${data}}` }, refused(/deeper than 32/)),
  ],
  [
    3,
    hostile.hostileKey(
      {
        bases: ['"type":"ping"', '"type":"move","x":1,"y":1'],
        holder: (_rng, spelled, value) => `{"${spelled}":${value}}`,
      },
      (key) => refused(new RegExp(`Forbidden key: ${key}`)),
    ),
  ],
  [2, hostile.notAnObject(refused(/^Frame must be a JSON object$/))],
  [2, hostile.binary([() => j({ type: 'ping' })], refused(/^Binary frames are not supported$/))],
  [
    3,
    hostile.wrongType({
      missing: ['{}', '{"x":1,"y":1}', ...hostile.misspelledType],
      missingBelow: 0.3,
      nonString: (value) => `{"type":${value},"x":1,"y":1}`,
      nonStrings: hostile.nonStrings(),
      nonStringBelow: 0.6,
      expected: { missing: refused(/^Missing message type$/), nonString: refused(/^Missing message type$/) },
      badString: (rng) => {
        const type = hostile.unknownName(rng, {
          also: 'move',
          server: ['pong', 'cursor', 'joined', 'moved'],
          real: ['join', 'move', 'ping'],
        });
        return { kind: 'unknown type', payload: j({ type, x: 1, y: 1 }), ...refused(/^Unknown message type: /) };
      },
    }),
  ],
  [
    3,
    (rng) => {
      const field = ['"x":"1","y":1', '"x":-1,"y":1', '"x":1.5,"y":1', '"y":1', '"x":1,"y":100001', '"x":null,"y":0'];
      const pickField = field[Math.floor(rng() * field.length)];
      return { kind: 'bad move', payload: `{"type":"move",${pickField}}`, ...refused(/^[xy] /) };
    },
  ],
];

/** `count` hostile frames for the example gateway, the same for the same seed. */
export const whiteboardBarrage = (seed: number, count: number): WhiteboardCase[] =>
  hostile.barrage(seed, count, CATEGORIES);
