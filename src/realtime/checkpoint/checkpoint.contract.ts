import type { GatewayContract, JsonSchema } from '../core/contract/index.js';

/** A UUID as clients may send it (the server checks it case-insensitively). */
const anyUuid = { type: 'string', pattern: '^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$' } as const;
/** A UUID the server made (`randomUUID`: lowercase), or one it looked up by its exact spelling. */
const uuid = { type: 'string', pattern: '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const count = { type: 'integer', minimum: 0 } as const;
/** A stream's epoch as the server makes it (SPEC.md §11): 8 base-36 characters. */
const epoch = { type: 'string', pattern: '^[0-9a-z]{8}$' } as const;

/** Keys the parser refuses anywhere in a frame (SPEC.md §10), named at the two levels the contract describes. */
const safeKeys = { propertyNames: { not: { enum: ['__proto__', 'constructor', 'prototype'] } } } as const;

const object = (properties: Record<string, JsonSchema>, required: string[] = [], closed = true): JsonSchema => ({
  type: 'object',
  properties,
  ...(required.length > 0 && { required }),
  ...(closed && { additionalProperties: false }),
});

/**
 * A request of `method`: `{id, method, params}`. The server ignores keys it does not know, at the top
 * and in `params` (no DTO forbids them), so both stay open; `params` may be left out when none is required.
 */
const request = (method: string, params: Record<string, JsonSchema> = {}, required: string[] = []): JsonSchema => ({
  ...object(
    {
      id: { type: 'string', description: 'Chosen by the client; the response carries it back' },
      method: { const: method },
      params: { ...object(params, required, false), ...safeKeys },
    },
    required.length > 0 ? ['id', 'method', 'params'] : ['id', 'method'],
    false,
  ),
  ...safeKeys,
});

/** The success response of a method: `{id, success: true, result}`. */
const success = (result: JsonSchema): JsonSchema =>
  object({ id: { type: 'string' }, success: { const: true }, result }, ['id', 'success', 'result']);

const sessionId = { session_id: anyUuid } as const;

/** A position the client saw in a session's stream (SPEC.md §11), as `StreamPositionDto` takes it. */
const since = object(
  {
    offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    epoch: { type: 'string', minLength: 1, maxLength: 64 },
  },
  ['offset', 'epoch'],
  false,
);

const checkpointRef = { ...sessionId, checkpoint_id: { type: 'string', description: 'A checkpoint id (a UUID)' } };

/** A checkpoint as `list_checkpoints` shows it; `restore` adds its `state`. */
const summary = {
  id: uuid,
  session_id: uuid,
  message: { type: 'string' },
  sequence: { type: 'integer', minimum: 1, description: '1, 2, 3… per session' },
  created_at: dateTime,
} as const;

/** Where a session's stream stands (SPEC.md §11); `offset` and `epoch` come together. */
const streamAt = {
  offset: { ...count, description: "The session stream's current offset (0: no event yet)" },
  epoch,
} as const;

/** Whether `event_type` is the one event without a checkpoint (`checkpoints_compacted`). */
const compacted = { properties: { event_type: { const: 'checkpoints_compacted' } } } as const;

/** The events pushed to a session's subscribers (seed 003 `WebSocketEvent`), with their position in its stream. */
const sessionEvent: JsonSchema = {
  ...object(
    {
      event_type: {
        enum: ['checkpoint_created', 'checkpoint_restored', 'checkpoint_deleted', 'checkpoints_compacted'],
      },
      data: object({ checkpoint_id: uuid, session_id: uuid, remaining: count, timestamp: dateTime }, [
        'session_id',
        'timestamp',
      ]),
      stream: { type: 'string', pattern: `^session:${uuid.pattern.slice(1, -1)}$` },
      offset: { type: 'integer', minimum: 1 },
      epoch,
    },
    ['event_type', 'data'],
  ),
  // The position fields come together (when history is on: WS_HISTORY_SIZE and WS_HISTORY_TTL above 0).
  dependencies: { stream: ['offset', 'epoch'], offset: ['stream', 'epoch'], epoch: ['stream', 'offset'] },
  // `checkpoints_compacted` tells how many remain; the others name their checkpoint.
  if: compacted,
  then: { properties: { data: { required: ['remaining'], not: { required: ['checkpoint_id'] } } } },
  else: { properties: { data: { required: ['checkpoint_id'], not: { required: ['remaining'] } } } },
};

/** The checkpoint RPC gateway's frames (seed 003, SPEC.md §5, §10, §11). */
export const CHECKPOINT_CONTRACT: GatewayContract = {
  title: 'Checkpoint RPC',
  description:
    'JSON-RPC over WebSocket (seed 003): requests `{id, method, params}` answered in order by ' +
    '`{id, success, result|error}`, and the events of the sessions a connection subscribed to. A connection ' +
    'without a token must `authenticate` within 10 s; before that only `authenticate` frames of at most 8 KiB are read.',
  receives: [
    {
      name: 'authenticate',
      summary: 'Authenticates the connection with a JWT or the static CHECKPOINT_AUTH_TOKEN',
      payload: request('authenticate', { token: { type: 'string', minLength: 1 } }, ['token']),
    },
    {
      name: 'create_session',
      summary: "Creates a session owned by the connection's principal",
      payload: request('create_session', {
        name: { type: 'string', maxLength: 256, default: 'unnamed' },
      }),
    },
    {
      name: 'checkpoint',
      summary: 'Appends a checkpoint to a session',
      payload: request(
        'checkpoint',
        {
          ...sessionId,
          message: { type: 'string', maxLength: 4096, default: 'Checkpoint' },
          state: {
            description: 'Any JSON, at most CHECKPOINT_MAX_STATE_BYTES (262144) bytes of UTF-8 JSON; null: none',
          },
        },
        ['session_id'],
      ),
    },
    {
      name: 'list_checkpoints',
      summary: "Lists a session's checkpoints, oldest first",
      payload: request('list_checkpoints', sessionId, ['session_id']),
    },
    {
      name: 'restore',
      summary: 'Reads a checkpoint with its state',
      payload: request('restore', checkpointRef, ['session_id', 'checkpoint_id']),
    },
    {
      name: 'delete_checkpoint',
      summary: 'Deletes a checkpoint',
      payload: request('delete_checkpoint', checkpointRef, ['session_id', 'checkpoint_id']),
    },
    {
      name: 'compact',
      summary: 'Keeps the newest `keep` checkpoints of a session',
      payload: request('compact', { ...sessionId, keep: count }, ['session_id', 'keep']),
    },
    {
      name: 'subscribe',
      summary: "Subscribes to a session's events, resuming after `since` when given (SPEC.md §11)",
      payload: request('subscribe', { ...sessionId, since }, ['session_id']),
    },
    {
      name: 'unsubscribe',
      summary: "Stops a session's events",
      payload: request('unsubscribe', sessionId, ['session_id']),
    },
    { name: 'metrics', summary: "The gateway's counters", payload: request('metrics') },
  ],
  sends: [
    {
      name: 'authenticate_result',
      summary: '`authenticate` succeeded',
      payload: success(object({ authenticated: { const: true } }, ['authenticated'])),
    },
    { name: 'create_session_result', summary: "The new session's id", payload: success(uuid) },
    { name: 'checkpoint_result', summary: "The new checkpoint's id", payload: success(uuid) },
    {
      name: 'list_checkpoints_result',
      summary: "The session's checkpoints, oldest first (without their states)",
      payload: success({ type: 'array', items: object(summary, Object.keys(summary)) }),
    },
    {
      name: 'restore_result',
      summary: 'The checkpoint with its state (null when it has none)',
      payload: success(object({ ...summary, state: {} }, [...Object.keys(summary), 'state'])),
    },
    {
      name: 'delete_checkpoint_result',
      summary: 'The checkpoint is deleted',
      payload: success(object({ deleted: { const: true } }, ['deleted'])),
    },
    {
      name: 'compact_result',
      summary: 'How many checkpoints remain',
      payload: success(object({ remaining: count }, ['remaining'])),
    },
    {
      name: 'subscribe_result',
      summary:
        "Subscribed, with the stream's position; `recovered` when `since` was given (then the missed events follow)",
      payload: success({
        ...object({ subscribed: { const: true }, session_id: uuid, recovered: { type: 'boolean' }, ...streamAt }, [
          'subscribed',
          'session_id',
        ]),
        dependencies: { offset: ['epoch'], epoch: ['offset'] },
      }),
    },
    {
      name: 'unsubscribe_result',
      summary: 'Unsubscribed (whether or not it was subscribed)',
      payload: success(object({ unsubscribed: { const: true }, session_id: anyUuid }, ['unsubscribed', 'session_id'])),
    },
    {
      name: 'metrics_result',
      summary: 'Sessions, checkpoints, subscriptions and connections, and requests served',
      payload: success(
        object(
          { sessions: count, checkpoints: count, subscriptions: count, connections: count, requests_served: count },
          ['sessions', 'checkpoints', 'subscriptions', 'connections', 'requests_served'],
        ),
      ),
    },
    {
      name: 'error',
      summary:
        "Any failure, in seed 003's words: the request's id, `unknown` for a frame that could not be read as " +
        'a request, `init` for a connection refused at the door (then closed)',
      payload: object({ id: { type: 'string' }, success: { const: false }, error: { type: 'string', minLength: 1 } }, [
        'id',
        'success',
        'error',
      ]),
    },
    { name: 'session_event', summary: 'An event of a subscribed session', payload: sessionEvent },
  ],
};
