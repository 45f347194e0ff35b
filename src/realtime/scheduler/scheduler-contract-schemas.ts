/** JSON Schema pieces of the scheduler's contract: frame parts, ids, timestamps and stream positions. */
import type { JsonSchema } from '../core/contract/index.js';
import { RESOURCE_ID, SCHEDULER_RESOURCE_TYPES, USER_ID } from './scheduler-resources.js';

// ---------------------------------------------------------------------------------------------
// JSON Schema pieces (draft-07), local to the scheduler's contract
// ---------------------------------------------------------------------------------------------

export type Properties = Record<string, JsonSchema>;

/** An object with exactly `properties` (those in `required` present), nothing else. */
export const closed = (properties: Properties, required: readonly string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** An object with `properties` (those in `required` present) and any other field besides. */
export const open = (properties: Properties, required: readonly string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  required,
});

export const text = (description?: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  ...(description && { description }),
});
export const count = (description: string): JsonSchema => ({ type: 'integer', minimum: 0, description });
export const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });

export const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** A resource id as paths, subscriptions and scopes carry it (`RESOURCE_ID` without its anchors). */
export const RESOURCE = RESOURCE_ID.source.replace(/^\^/, '').replace(/\$$/, '');
/** A user id (`USER_ID` without its anchors): a token's `sub`. */
export const USER = USER_ID.source.replace(/^\^/, '').replace(/\$$/, '');

/** `Date.prototype.toISOString()`: UTC with milliseconds. */
export const TIMESTAMP: JsonSchema = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$',
  description: 'When the server sent the frame: ISO 8601 UTC with milliseconds',
};
/** A time a publisher gave (seed 001 writes some without milliseconds). */
export const DATE_TIME: JsonSchema = { type: 'string', format: 'date-time' };
/** A frame id the server makes: `<prefix>-<UUID v4>`. */
export const freshId = (prefix: string): JsonSchema => ({ type: 'string', pattern: `^${prefix}-${UUID}$` });

export const RESOURCE_TYPE: JsonSchema = { enum: [...SCHEDULER_RESOURCE_TYPES] };
export const RESOURCE_ID_SCHEMA: JsonSchema = {
  type: 'string',
  pattern: RESOURCE_ID.source,
  description: '1 to 128 characters of A-Z a-z 0-9 _ . : ~ -',
};
export const USER_ID_SCHEMA: JsonSchema = {
  type: 'string',
  pattern: USER_ID.source,
  description: "A user's id, its token's `sub`: 1 to 256 characters, no whitespace or control characters",
};

/** Keys the server refuses anywhere in a frame (SPEC §10): a frame holding one is answered `Invalid message format`. */
export const NO_HOSTILE_KEYS: JsonSchema = { not: { enum: ['__proto__', 'constructor', 'prototype'] } };

// Stream positions (SPEC §11): the scheduler's frames carry a `positions` map, one entry per stream.

export const EPOCH: JsonSchema = {
  type: 'string',
  pattern: '^[0-9a-z]{8}$',
  description: "The stream's epoch: it changes when the stream's history is lost",
};

/** Where a stream is in a subscription response, and whether the position asked for was recovered. */
export const JOIN_POSITION: Properties = {
  recovered: {
    type: 'boolean',
    description: 'Present when the client named a position: true, the missed events follow this frame, in order',
  },
  offset: { type: 'integer', minimum: 0, description: "The stream's offset: its last event (0: none yet)" },
  epoch: EPOCH,
};
/** `offset` and `epoch` come together (both absent when history is off). */
export const POSITION_PAIR = { offset: ['epoch'], epoch: ['offset'] } as const;

/** A stream's topic: `<resourceType>:<id>`, or `system` and `broadcast` as they are. */
export const topicKey = (stream: string, id: string): string =>
  stream === 'broadcast' || stream === 'system' ? stream : `${stream}:${id}`;

/** An event's `positions`: its offset and epoch in each stream it was routed to, keyed by the stream's topic. */
export function positions(streams: readonly string[]): JsonSchema {
  const shown = streams.map((stream) => topicKey(stream, '<id>')).join(', ');
  return {
    type: 'object',
    description: `SPEC §11: the event's position in each of its streams (${shown}); absent when history is off`,
    minProperties: 1,
    propertyNames: {
      pattern: `^(?:${streams.map((stream) => topicKey(stream, stream === 'user' ? USER : RESOURCE)).join('|')})$`,
    },
    additionalProperties: closed({ offset: { type: 'integer', minimum: 1 }, epoch: EPOCH }, ['offset', 'epoch']),
  };
}

/** The `since` of a subscribe: the last position the client saw in the resource's stream. */
export const SINCE: JsonSchema = {
  type: 'object',
  description: 'SPEC §11: the last position the client saw in this stream; the events after it follow the response',
  properties: {
    offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    epoch: { type: 'string', minLength: 1, maxLength: 64 },
  },
  required: ['offset', 'epoch'],
};

/** `{type, id, timestamp, …}`, nothing else. */
export function serverFrame(
  type: JsonSchema,
  id: JsonSchema,
  properties: Properties,
  required: readonly string[],
): JsonSchema {
  return closed({ type, id, timestamp: TIMESTAMP, ...properties }, ['type', 'id', 'timestamp', ...required]);
}
