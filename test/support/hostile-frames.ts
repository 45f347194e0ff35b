/**
 * The seeded hostile-frame generator of every gateway's SPEC §10 barrage. What is the same on every
 * gateway lives here: the PRNG, the hostile categories (invalid and truncated JSON, nesting past
 * the bound, prototype keys, wrong types, values that are not objects, binary frames), the barrage
 * and the sanity checks on it. What is the gateway's own comes from its support file, through
 * `hostileFrames`: how its valid frames look (the gateway's smallest frame, and the hooks each
 * category takes), the error each case must get (`E`, spread into the case and checked there by
 * the gateway's own recogniser), and which categories it draws from, with what weight, next to
 * categories of its own. Same seed and same categories, same barrage.
 */

export const MAX_DEPTH = 32;

export type Rng = () => number;

/** Tiny deterministic PRNG (mulberry32): same seed, same barrage. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
export const j = (value: unknown): string => JSON.stringify(value);

/** One hostile frame and `E`, what the gateway must answer it with. */
export type HostileCase<E extends object = object> = { kind: string; payload: string | Buffer } & E;
/** Draws one case of a category. */
export type Category<E extends object> = (rng: Rng) => HostileCase<E>;
/** The categories a gateway draws from, with their weights. */
export type Categories<E extends object> = ReadonlyArray<readonly [number, Category<E>]>;

/** `count` cases: every category once, then drawn by weight. */
function barrage<E extends object>(seed: number, count: number, categories: Categories<E>): HostileCase<E>[] {
  const rng = mulberry32(seed);
  const total = categories.reduce((sum, [weight]) => sum + weight, 0);
  const cases: HostileCase<E>[] = [];
  for (const [, draw] of categories) cases.push(draw(rng));
  while (cases.length < count) {
    let roll = rng() * total;
    const entry = categories.find(([weight]) => (roll -= weight) < 0) ?? categories[0];
    cases.push(entry[1](rng));
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// JSON and text
// ---------------------------------------------------------------------------------------------

/** Wraps JSON text `inner` in `levels` containers (objects or arrays, chosen by `rng`). */
export function wrap(rng: Rng, levels: number, inner: string): string {
  let text = inner;
  for (let i = 0; i < levels; i++) {
    switch (int(rng, 0, 3)) {
      case 0:
        text = `{"k${i}":${text}}`;
        break;
      case 1:
        text = `[${text}]`;
        break;
      case 2:
        text = `[1,"x",${text}]`;
        break;
      default:
        text = `{"a":null,"b":${text},"c":[]}`;
    }
  }
  return text;
}

/** Reference depth, counted as the server must: the top-level object is depth 1. */
export function depthOf(root: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    deepest = Math.max(deepest, depth);
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `n` nested objects: nestedObjects(1) = {}, nestedObjects(2) = {"a":{}}, … */
export function nestedObjects(n: number): string {
  return `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`;
}

/** The frame `build(pad)` of exactly `bytes` UTF-8 bytes, padded with two-byte characters (bytes, not characters, count). */
export function frameOfBytes(bytes: number, build: (pad: string) => string): string {
  let pad = 'é'.repeat(Math.floor((bytes - Buffer.byteLength(build(''))) / 2));
  while (Buffer.byteLength(build(pad)) < bytes) pad += 'x';
  const text = build(pad);
  if (Buffer.byteLength(text) !== bytes) throw new Error(`could not build a ${bytes}-byte frame`);
  return text;
}

const UNICODE_BITS = [
  'é',
  'ß',
  'Ω',
  'р',
  'ı',
  '١',
  '９',
  '🏓',
  '👩‍💻',
  '\u200b',
  '\u202e',
  '\ufeff',
  '\u0000',
  '\u0007',
  '\\',
  '"',
  '\n',
];

/** 1 to `maxLength` printable ASCII characters, a third of them awkward Unicode (controls, quotes, RTL, emoji). */
export function randomText(rng: Rng, maxLength: number): string {
  let text = '';
  const length = int(rng, 1, maxLength);
  for (let i = 0; i < length; i++) {
    text += rng() < 0.3 ? pick(rng, UNICODE_BITS) : String.fromCharCode(int(rng, 0x20, 0x7e));
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// What the categories are made of, from the gateway's smallest valid frame
// ---------------------------------------------------------------------------------------------

/**
 * Text that is not JSON: near misses of `minimal`, the gateway's smallest valid frame (e.g.
 * `{"type":"ping"}`, `word` being `ping`), then junk, then `quoted`, a frame of the gateway with a
 * single-quoted value. `second` is the frame sent right after `minimal` in one text.
 */
function garbage(minimal: string, word: string, quoted: string, second = minimal): string[] {
  const open = minimal.slice(0, -1);
  const middle = Math.floor(word.length / 2);
  return [
    '',
    ' ',
    '\n\t',
    '{oops',
    '{',
    '}',
    '{{}}',
    minimal.replaceAll('"', "'"),
    minimal.replace(/"(\w+)":/g, '$1:'),
    `${open},}`,
    `${minimal}}`,
    `${minimal} ${second}`,
    `${minimal}x`,
    open,
    minimal.replace(`"${word}"`, word),
    ...['01', 'NaN', 'Infinity', '-', '1e'].map((number) => `${open},"n":${number}}`),
    minimal.replace(word, `${word.slice(0, middle)}\u0001${word.slice(middle)}`),
    minimal.replace(`"${word}"`, '"\\x41"'),
    minimal.replace(`"${word}"`, '"\\u12"'),
    'NaN',
    'undefined',
    'nul',
    'True',
    '🏓',
    '\u0000',
    '[1,2',
    '[,]',
    quoted,
  ];
}

/** JSON values that are not strings, for a member that must be one (`word` and `object` are the gateway's). */
function nonStrings(word: string, object: string): string[] {
  return [
    ...['5', '-1', '0.5', 'true', 'false', 'null', '[]', j([word]), '{}', object],
    ...['1e308', '-1e400', '123456789012345678901234567890', `1${'0'.repeat(400)}`],
  ];
}

/** A type key spelled wrong: the frame has no `type`. */
const MISSPELLED_TYPE = ['{"Type":"ping"}', '{" type":"ping"}'];

const CYRILLIC_TWIN: Record<string, string> = { p: '\u0440', m: '\u043c' };
const fullWidth = (text: string): string =>
  [...text].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('');

export interface NearNames {
  /** The name the gateway takes (`ping`), spelled wrong in every way that must not pass for it. */
  word: string;
  /** Another name it takes, with a zero-width space. */
  also: string;
  /** Names only the server sends, or that the gateway does not take from clients. */
  server: readonly string[];
  /** Names the gateway does take: never drawn. */
  real: ReadonlySet<string> | readonly string[];
  /** Adds a name of 100 to 3000 characters. */
  long?: boolean;
}

/** A name the gateway must not take: a look-alike of one it takes, a prototype name, a server name or random text. */
function unknownName(rng: Rng, names: NearNames): string {
  const { word } = names;
  const real = new Set(names.real);
  let name: string;
  do {
    name = pick(rng, [
      '',
      word.toUpperCase(),
      ` ${word}`,
      `${word} `,
      `${CYRILLIC_TWIN[word[0]]}${word.slice(1)}`,
      `${word}\u0000`,
      `${names.also}\u200b`,
      fullWidth(word),
      '🏓',
      '\ud800',
      'toString',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'valueOf',
      ...names.server,
      randomText(rng, 30),
      ...(names.long ? ['x'.repeat(int(rng, 100, 3000))] : []),
    ]);
  } while (real.has(name));
  return name;
}

// ---------------------------------------------------------------------------------------------
// The categories
// ---------------------------------------------------------------------------------------------

/** Text that does not parse: `texts` (see `garbage`) or random text. */
function invalidJson<E extends object>(texts: readonly string[], expected: E): Category<E> {
  return (rng) => {
    let text: string;
    if (rng() < 0.5) {
      text = pick(rng, texts);
    } else {
      do {
        text = (rng() < 0.5 ? '{' : '') + randomText(rng, 40);
      } while (parses(text));
    }
    return { kind: 'invalid JSON', payload: text, ...expected };
  };
}

/** A valid frame of the gateway cut short. */
function truncatedJson<E extends object>(valid: readonly string[], expected: E): Category<E> {
  return (rng) => {
    const full = pick(rng, valid);
    return { kind: 'truncated JSON', payload: full.slice(0, int(rng, 1, full.length - 1)), ...expected };
  };
}

export interface DeepFrame {
  /** A frame of the gateway holding `nested`. */
  frame(rng: Rng, nested: string): string;
  /** The levels a frame puts above the nested value, the frame itself being one (1 by default). */
  outer?: number;
  /** The deepest frame drawn most of the time (MAX_DEPTH + 9 by default). */
  deepest?: number;
  /** The nesting of the rare huge values. */
  huge?: readonly number[];
}

/** A frame nested past MAX_DEPTH: by a few levels mostly, one time in ten by hundreds or thousands. */
function tooDeep<E extends object>(
  { frame, outer = 1, deepest = MAX_DEPTH + 9, huge = [100, 1_000, 50_000] }: DeepFrame,
  expected: E,
): Category<E> {
  return (rng) => {
    const levels = rng() < 0.1 ? pick(rng, huge) : int(rng, MAX_DEPTH + 1 - outer, deepest - outer);
    const nested =
      levels > 1_000
        ? `${'['.repeat(levels - 1)}{}${']'.repeat(levels - 1)}`
        : wrap(rng, levels - 1, pick(rng, ['{}', '[]', '{"x":1}', '[0]']));
    return { kind: `nested ${outer + levels} levels`, payload: frame(rng, nested), ...expected };
  };
}

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
export type HostileKey = (typeof HOSTILE_KEYS)[number];

/** A prototype key, as is or (one time in five) with a character \u-escaped. */
export function hostileKeyName(rng: Rng): { key: HostileKey; spelled: string } {
  const key = pick(rng, HOSTILE_KEYS);
  const spelled = rng() < 0.2 ? key.replace(/_/g, '\\u005f').replace(/^c/, '\\u0063').replace(/^p/, '\\u0070') : key;
  return { key, spelled };
}

const SCALARS = ['1', 'null', '"x"', 'true'];

/** Values the key may hold at `depth`, kept within MAX_DEPTH with their own nesting: only the key is hostile. */
function keyValues(depth: number): readonly string[] {
  return depth === MAX_DEPTH - 1
    ? ['{}', '[]', '{"polluted":"yes"}', '{"isAdmin":true}']
    : ['{"roles":["admin"]}', '{}', '[]', '1', '{"polluted":"yes"}', 'null', '{"isAdmin":true}'];
}

export interface KeyedFrame {
  /** Members of valid frames the key is put next to, e.g. `"type":"ping"` (one is drawn). */
  bases: readonly string[];
  /** Values the key may hold at `depth` (< MAX_DEPTH); by default up to two levels, one at MAX_DEPTH - 1. */
  values?(depth: number): readonly string[];
  /** More members after the base, when the key is at the top level. */
  rest?(rng: Rng, base: string, key: HostileKey): string;
  /** The object holding the key deeper down. */
  holder(rng: Rng, spelled: string, value: string, key: HostileKey): string;
  /** The member of the frame the holder is nested in (`data` by default). */
  field?(rng: Rng): string;
}

/** A frame with a prototype key at the top level (three times in ten) or at a depth up to MAX_DEPTH. */
function hostileKey<E extends object>(shape: KeyedFrame, expected: (key: HostileKey) => E): Category<E> {
  return (rng) => {
    const { key, spelled } = hostileKeyName(rng);
    const depth = rng() < 0.3 ? 1 : int(rng, 2, MAX_DEPTH);
    const value = pick(rng, depth >= MAX_DEPTH ? SCALARS : (shape.values ?? keyValues)(depth));
    const base = pick(rng, shape.bases);
    let text: string;
    if (depth === 1) {
      const rest = shape.rest?.(rng, base, key) ?? '';
      text = rng() < 0.5 ? `{"${spelled}":${value},${base}${rest}}` : `{${base}${rest},"${spelled}":${value}}`;
    } else {
      // the hostile key sits in an object at `depth`; the field itself is depth 2
      const holder = shape.holder(rng, spelled, value, key);
      const field = shape.field?.(rng) ?? 'data';
      text = `{${base},"${field}":${wrap(rng, depth - 2, holder)}}`;
    }
    return { kind: `${key} key at depth ${depth}`, payload: text, ...expected(key) };
  };
}

export interface TypeMistakes<E extends object> {
  /** Frames without a `type` (drawn below `missingBelow`), … */
  missing: readonly string[];
  missingBelow: number;
  /** … frames whose `type` is the JSON text `value`, not a string (below `nonStringBelow`), … */
  nonString(value: string): string;
  nonStrings: readonly string[];
  nonStringBelow: number;
  expected: { missing: E; nonString: E };
  /** … else a string type the gateway does not take. */
  badString: Category<E>;
}

/** A frame whose `type` is missing, not a string, or not one the gateway takes. */
function wrongType<E extends object>(mistakes: TypeMistakes<E>): Category<E> {
  return (rng) => {
    const roll = rng();
    if (roll < mistakes.missingBelow) {
      return { kind: 'missing type', payload: pick(rng, mistakes.missing), ...mistakes.expected.missing };
    }
    if (roll < mistakes.nonStringBelow) {
      const payload = mistakes.nonString(pick(rng, mistakes.nonStrings));
      return { kind: 'non-string type', payload, ...mistakes.expected.nonString };
    }
    return mistakes.badString(rng);
  };
}

/** JSON that is not an object, `minimal` and `word` (see `garbage`) among it. */
function notAnObject<E extends object>(minimal: string, word: string, expected: E): Category<E> {
  const texts = ['null', 'true', 'false', '0', '-0', '1e400', j(word), '""', '[]', '[null]'];
  texts.push(`[${minimal}]`, '[[[[]]]]', j(minimal));
  return (rng) => {
    const text = pick(rng, texts);
    return { kind: `not an object: ${text}`, payload: text, ...expected };
  };
}

/** A roll below the n-th cut sends the gateway's n-th valid frame as binary; below the cut after its frames, an empty one. */
const BINARY_CUTS = [0.3, 0.4, 0.45, 0.5];

/**
 * A binary frame: a valid frame of the gateway (`frames`, up to three: the first 30% of the time,
 * the next 10%, the next 5%), an empty one (5%), or else 1 to 256 random bytes.
 */
function binary<E extends object>(frames: ReadonlyArray<() => string>, expected: E): Category<E> {
  return (rng) => {
    const roll = rng();
    const cut = BINARY_CUTS.findIndex((below) => roll < below);
    let bytes: Buffer;
    if (cut >= 0 && cut < frames.length) bytes = Buffer.from(frames[cut]());
    else if (cut === frames.length) bytes = Buffer.alloc(0);
    else bytes = Buffer.from(Array.from({ length: int(rng, 1, 256) }, () => int(rng, 0, 255)));
    return { kind: `binary frame of ${bytes.length} bytes`, payload: bytes, ...expected };
  };
}

// ---------------------------------------------------------------------------------------------
// The categories, worded for one gateway
// ---------------------------------------------------------------------------------------------

/** What the generator needs to know of every gateway's valid frames. */
export interface GatewayFrames {
  /** Its smallest valid frame, e.g. `{"type":"ping"}`: near misses and non-objects are made of it. */
  minimal: string;
  /** The word in it that names what it does (`ping`): its look-alikes must not pass for it. */
  word: string;
}

/**
 * The hostile categories for one gateway, `E` being what it answers a hostile frame with (given
 * with each category, spread into each case). The weights, and the gateway's own categories,
 * are the gateway's to choose: `barrage(seed, count, [[3, invalidJson(…)], …])`.
 */
export function hostileFrames<E extends object>({ minimal, word }: GatewayFrames) {
  return {
    barrage: barrage<E>,
    /** Text that does not parse: near misses of the minimal frame (see `garbage`) or random text. */
    invalidJson: (quoted: string, expected: E, second = minimal) =>
      invalidJson(garbage(minimal, word, quoted, second), expected),
    truncatedJson: truncatedJson<E>,
    tooDeep: tooDeep<E>,
    hostileKey: hostileKey<E>,
    wrongType: wrongType<E>,
    notAnObject: (expected: E) => notAnObject(minimal, word, expected),
    binary: binary<E>,
    /** JSON values that are not strings, `object` (by default the minimal frame) and `[word]` among them. */
    nonStrings: (object = minimal, ofWord = word) => nonStrings(ofWord, object),
    misspelledType: MISSPELLED_TYPE,
    /** A name the gateway must not take, look-alikes of `word` among them (see `unknownName`). */
    unknownName: (rng: Rng, names: Omit<NearNames, 'word'>) => unknownName(rng, { word, ...names }),
  };
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/** Sanity checks on the generator itself, so a wrong expectation is ours and not the server's. */
export function checkGenerated(c: HostileCase): void {
  if (Buffer.isBuffer(c.payload)) return;
  const text = c.payload;
  if (c.kind === 'invalid JSON' || c.kind === 'truncated JSON') {
    if (parses(text)) throw new Error(`generator bug: ${c.kind} parses: ${text}`);
    return;
  }
  const depth = depthOf(JSON.parse(text));
  if (c.kind.startsWith('nested')) {
    if (depth <= MAX_DEPTH) throw new Error(`generator bug: ${c.kind} is ${depth} deep`);
    return;
  }
  if (depth > MAX_DEPTH) throw new Error(`generator bug: ${c.kind} is too deep: ${text.slice(0, 200)}`);
  if (
    /^(__proto__|constructor|prototype) key/.test(c.kind) &&
    !/__proto__|constructor|prototype|\\u005f|\\u0063|\\u0070/.test(text)
  )
    throw new Error(`generator bug: ${c.kind} has no hostile key`);
}

/** The label of case `i` in a failure message. */
export const caseLabel = (c: HostileCase, i: number): string =>
  `#${i} ${c.kind} ${Buffer.isBuffer(c.payload) ? '<binary>' : c.payload.slice(0, 120)}`;
