/**
 * Typed decoding of JSON the module reads back (Redis values other instances wrote, bus frames):
 * checked field by field rather than cast, so that a value from another version of the module, or a
 * damaged one, fails here with its name instead of as an `undefined` deep inside a service.
 */

/** A check of one value: true when it has the type `T`. */
export type Guard<T> = (value: unknown) => value is T;

export const isString: Guard<string> = (value): value is string => typeof value === 'string';
export const isNumber: Guard<number> = (value): value is number => typeof value === 'number';
export const isRecord: Guard<Record<string, unknown>> = (value): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function optional<T>(guard: Guard<T>): Guard<T | undefined> {
  return (value): value is T | undefined => value === undefined || guard(value);
}

export function nullable<T>(guard: Guard<T>): Guard<T | null> {
  return (value): value is T | null => value === null || guard(value);
}

export function oneOf<T>(...guards: Array<Guard<T>>): Guard<T> {
  return (value): value is T => guards.some((guard) => guard(value));
}

export function arrayOf<T>(guard: Guard<T>): Guard<T[]> {
  return (value): value is T[] => Array.isArray(value) && value.every(guard);
}

/** An object with (at least) these fields, each checked by its guard. */
export function shape<T extends object>(fields: { [K in keyof T]-?: Guard<T[K]> }): Guard<T> {
  const entries = Object.entries<Guard<unknown>>(fields);
  return (value): value is T => isRecord(value) && entries.every(([name, guard]) => guard(value[name]));
}

/** `text` parsed and checked; throws naming `what` when it is not JSON or not of that shape. */
export function decodeJson<T>(text: string, guard: Guard<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`Malformed ${what}: not JSON`);
  }
  if (!guard(value)) throw new Error(`Malformed ${what}`);
  return value;
}
