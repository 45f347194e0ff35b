import type { GatewayContract, JsonSchema, MessageContract } from '../core/contract/index.js';
import { RESOURCE_ID, SCHEDULER_RESOURCE_TYPES, USER_ID } from './scheduler-resources.js';

// ---------------------------------------------------------------------------------------------
// JSON Schema pieces (draft-07), local to the scheduler's contract
// ---------------------------------------------------------------------------------------------

type Properties = Record<string, JsonSchema>;

/** An object with exactly `properties` (those in `required` present), nothing else. */
const closed = (properties: Properties, required: readonly string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** An object with `properties` (those in `required` present) and any other field besides. */
const open = (properties: Properties, required: readonly string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  required,
});

const text = (description?: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  ...(description && { description }),
});
const count = (description: string): JsonSchema => ({ type: 'integer', minimum: 0, description });
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** A resource id as paths, subscriptions and scopes carry it (`RESOURCE_ID` without its anchors). */
const RESOURCE = RESOURCE_ID.source.replace(/^\^/, '').replace(/\$$/, '');
/** A user id (`USER_ID` without its anchors): a token's `sub`. */
const USER = USER_ID.source.replace(/^\^/, '').replace(/\$$/, '');

/** `Date.prototype.toISOString()`: UTC with milliseconds. */
const TIMESTAMP: JsonSchema = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$',
  description: 'When the server sent the frame: ISO 8601 UTC with milliseconds',
};
/** A time a publisher gave (seed 001 writes some without milliseconds). */
const DATE_TIME: JsonSchema = { type: 'string', format: 'date-time' };
/** A frame id the server makes: `<prefix>-<UUID v4>`. */
const freshId = (prefix: string): JsonSchema => ({ type: 'string', pattern: `^${prefix}-${UUID}$` });

const RESOURCE_TYPE: JsonSchema = { enum: [...SCHEDULER_RESOURCE_TYPES] };
const RESOURCE_ID_SCHEMA: JsonSchema = {
  type: 'string',
  pattern: RESOURCE_ID.source,
  description: '1 to 128 characters of A-Z a-z 0-9 _ . : ~ -',
};
const USER_ID_SCHEMA: JsonSchema = {
  type: 'string',
  pattern: USER_ID.source,
  description: "A user's id, its token's `sub`: 1 to 256 characters, no whitespace or control characters",
};

/** Keys the server refuses anywhere in a frame (SPEC §10): a frame holding one is answered `Invalid message format`. */
const NO_HOSTILE_KEYS: JsonSchema = { not: { enum: ['__proto__', 'constructor', 'prototype'] } };

// Stream positions (SPEC §11): the scheduler's frames carry a `positions` map, one entry per stream.

const EPOCH: JsonSchema = {
  type: 'string',
  pattern: '^[0-9a-z]{8}$',
  description: "The stream's epoch: it changes when the stream's history is lost",
};

/** Where a stream is in a subscription response, and whether the position asked for was recovered. */
const JOIN_POSITION: Properties = {
  recovered: {
    type: 'boolean',
    description: 'Present when the client named a position: true, the missed events follow this frame, in order',
  },
  offset: { type: 'integer', minimum: 0, description: "The stream's offset: its last event (0: none yet)" },
  epoch: EPOCH,
};
/** `offset` and `epoch` come together (both absent when history is off). */
const POSITION_PAIR = { offset: ['epoch'], epoch: ['offset'] } as const;

/** A stream's topic: `<resourceType>:<id>`, or `system` and `broadcast` as they are. */
const topicKey = (stream: string, id: string): string =>
  stream === 'broadcast' || stream === 'system' ? stream : `${stream}:${id}`;

/** An event's `positions`: its offset and epoch in each stream it was routed to, keyed by the stream's topic. */
function positions(streams: readonly string[]): JsonSchema {
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
const SINCE: JsonSchema = {
  type: 'object',
  description: 'SPEC §11: the last position the client saw in this stream; the events after it follow the response',
  properties: {
    offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    epoch: { type: 'string', minLength: 1, maxLength: 64 },
  },
  required: ['offset', 'epoch'],
};

// ---------------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------------

/** Every client frame: `type`, an optional `id` (an error answering it carries it), other fields ignored. */
function clientFrame(type: string, properties: Properties = {}, required: readonly string[] = []): JsonSchema {
  return {
    type: 'object',
    properties: {
      type: { const: type },
      id: { type: 'string', description: 'The request id: an error answering this frame carries it' },
      ...properties,
    },
    required: ['type', ...required],
    propertyNames: NO_HOSTILE_KEYS,
  };
}

/** A subscription's `resourceType` and `resourceId`: `user` defaults to the own `sub`, `system`'s id is `system`. */
const TARGETS: JsonSchema[] = [
  {
    properties: { resourceType: { enum: ['experiment', 'task', 'project', 'worker'] }, resourceId: RESOURCE_ID_SCHEMA },
    required: ['resourceId'],
  },
  { properties: { resourceType: { const: 'user' }, resourceId: USER_ID_SCHEMA } },
  { properties: { resourceType: { const: 'system' }, resourceId: { const: 'system' } } },
];

function subscription(action: 'subscribe' | 'unsubscribe', extra: Properties = {}): JsonSchema {
  return clientFrame(
    'system_status',
    {
      data: {
        type: 'object',
        properties: {
          action: { const: action },
          resourceType: RESOURCE_TYPE,
          resourceId: USER_ID_SCHEMA,
          ...extra,
        },
        required: ['action', 'resourceType'],
        propertyNames: NO_HOSTILE_KEYS,
        oneOf: TARGETS,
      },
    },
    ['data'],
  );
}

const ping: JsonSchema = clientFrame('ping', {
  id: { type: 'string', description: 'Answered by a pong whose id is this one with a leading `ping` made `pong`' },
  timestamp: DATE_TIME,
});

const receives: MessageContract[] = [
  { name: 'ping', summary: 'Asks for a pong', payload: ping },
  {
    name: 'pong',
    summary: "The answer to the server's heartbeat ping (any frame counts as life); not answered",
    payload: clientFrame('pong', { timestamp: DATE_TIME }),
  },
  {
    name: 'subscribe',
    summary:
      "Subscribes to a resource's events, resuming after `since` when given; answered `subscribed` or `Forbidden`",
    payload: subscription('subscribe', { since: SINCE }),
  },
  {
    name: 'unsubscribe',
    summary: 'Unsubscribes from a resource (answered `unsubscribed` even when it was not subscribed)',
    payload: subscription('unsubscribe'),
  },
  {
    name: 'status_request',
    summary: "A `system_status` frame without an action: answered with the gateway's statistics",
    payload: clientFrame('system_status', {
      data: {
        type: 'object',
        properties: { action: { not: {}, description: 'Absent: with an action, the frame is a subscription' } },
        propertyNames: NO_HOSTILE_KEYS,
      },
    }),
  },
];

// ---------------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------------

/** `{type, id, timestamp, …}`, nothing else. */
function serverFrame(
  type: JsonSchema,
  id: JsonSchema,
  properties: Properties,
  required: readonly string[],
): JsonSchema {
  return closed({ type, id, timestamp: TIMESTAMP, ...properties }, ['type', 'id', 'timestamp', ...required]);
}

function subscriptionResponse(action: 'subscribed' | 'unsubscribed', extra: Properties = {}): JsonSchema {
  return serverFrame(
    { const: 'system_status' },
    freshId('sub-response'),
    {
      data: {
        ...closed(
          {
            action: { const: action },
            resourceType: RESOURCE_TYPE,
            resourceId: USER_ID_SCHEMA,
            status: { const: 'success' },
            ...extra,
          },
          ['action', 'resourceType', 'resourceId', 'status'],
        ),
        dependencies: POSITION_PAIR,
      },
    },
    ['data'],
  );
}

/** Seed 001's system statistics. */
const STATISTICS: Properties = {
  totalConnections: count('Connections accepted since the instance started'),
  activeConnections: count('Connections open now'),
  totalMessages: count('Frames in and out'),
  messagesPerSecond: { type: 'number', minimum: 0 },
  averageLatency: { type: 'string', pattern: '^\\d+(\\.\\d+)?s$', description: 'e.g. `0.05s`' },
  uptime: { type: 'string', pattern: '^\\d+h \\d+m \\d+s$', description: 'e.g. `2h 30m 15s`' },
};

// The seed's resources: the fields it shows, other fields of the host's objects travel along.

const EXPERIMENT = open(
  {
    id: text(),
    name: { type: 'string' },
    status: text('e.g. CREATED, RUNNING, COMPLETED, FAILED'),
    ownerId: text(),
    projectId: text(),
  },
  ['id', 'name', 'status', 'ownerId'],
);
const EXPERIMENT_SUMMARY = closed({ id: text(), name: { type: 'string' }, status: text(), ownerId: text() }, [
  'id',
  'name',
  'status',
  'ownerId',
]);
const TASK_ERROR: JsonSchema = {
  type: 'string',
  description: 'Why the task failed (task_failed), in the task and its summary',
};
const TASK = open(
  {
    id: text(),
    experimentId: text(),
    status: text('e.g. CREATED, RUNNING, COMPLETED, FAILED'),
    command: { type: 'string' },
    workerId: nullable(text()),
    error: TASK_ERROR,
  },
  ['id', 'experimentId', 'status'],
);
const TASK_SUMMARY = closed(
  { id: text(), experimentId: text(), status: text(), workerId: nullable(text()), error: TASK_ERROR },
  ['id', 'experimentId', 'status', 'workerId'],
);
const WORKER = open(
  {
    id: text(),
    computeResourceId: text(),
    experimentId: text(),
    status: text('e.g. RUNNING, OFFLINE'),
    currentTaskId: nullable(text()),
  },
  ['id', 'computeResourceId', 'status'],
);
const WORKER_SUMMARY = closed({ id: text(), computeResourceId: text(), experimentId: text(), status: text() }, [
  'id',
  'computeResourceId',
  'status',
]);
const EXPERIMENT_PROGRESS = open(
  {
    experimentId: text(),
    totalTasks: count('Tasks of the experiment'),
    completedTasks: count('Tasks completed'),
    failedTasks: count('Tasks failed'),
    runningTasks: count('Tasks running'),
    progressPercent: { type: 'number', minimum: 0, maximum: 100 },
    estimatedTimeRemaining: { type: 'string', description: 'e.g. `1h 30m`' },
    lastUpdated: DATE_TIME,
  },
  ['experimentId', 'totalTasks', 'completedTasks', 'failedTasks', 'runningTasks', 'progressPercent', 'lastUpdated'],
);
const TASK_PROGRESS = open(
  {
    taskId: text(),
    experimentId: text(),
    status: text(),
    progressPercent: { type: 'number', minimum: 0, maximum: 100 },
    currentStage: { type: 'string' },
    workerId: nullable(text()),
    startedAt: DATE_TIME,
    estimatedCompletion: DATE_TIME,
    lastUpdated: DATE_TIME,
  },
  ['taskId', 'experimentId', 'status', 'progressPercent', 'lastUpdated'],
);

/**
 * An event id (SPEC §4): seed 001's `<prefix>_{resourceId}_{unixSeconds}` (`system_{unixSeconds}`),
 * then `_` and a suffix that keeps it unique within one second: the publishing process's 7-character
 * tag and a base-36 count.
 */
function eventId(prefix: string, ofResource: boolean): JsonSchema {
  const resource = ofResource ? `_${RESOURCE}` : '';
  return {
    type: 'string',
    pattern: `^${prefix}${resource}_\\d+_[0-9a-z]{8,}$`,
    description: `${prefix}${ofResource ? '_{resourceId}' : ''}_{unixSeconds}_{suffix}`,
  };
}

interface Family {
  /** The resource, as event types begin: `experiment` of `experiment_created`. */
  noun: string;
  idPrefix: string;
  ofResource: boolean;
  topics: readonly string[];
}

const EXPERIMENT_EVENTS: Family = {
  noun: 'experiment',
  idPrefix: 'exp',
  ofResource: true,
  topics: ['experiment', 'project', 'user'],
};
const TASK_EVENTS: Family = {
  noun: 'task',
  idPrefix: 'task',
  ofResource: true,
  topics: ['task', 'experiment', 'project', 'user'],
};
const WORKER_EVENTS: Family = { noun: 'worker', idPrefix: 'worker', ofResource: true, topics: ['worker', 'system'] };
const SYSTEM_EVENTS: Family = { noun: 'system', idPrefix: 'system', ofResource: false, topics: ['broadcast'] };

function event(type: string, summary: string, family: Family, data: JsonSchema): MessageContract {
  return {
    name: type,
    summary,
    payload: serverFrame(
      { const: type },
      eventId(family.idPrefix, family.ofResource),
      { data, positions: positions(family.topics) },
      ['data'],
    ),
  };
}

/** `data` of a resource event: the resource as the publisher gave it, and its summary. */
const resourceData = (key: string, resource: JsonSchema, summary: JsonSchema): JsonSchema =>
  closed({ [key]: resource, summary }, [key, 'summary']);

const HAPPENED = {
  created: 'was created',
  updated: 'changed',
  completed: 'completed',
  failed: 'failed',
  registered: 'registered',
  offline: 'went offline',
} as const;

/** The events of a family whose data is the resource and its summary: `<noun>_<verb>` for each verb. */
function resourceEvents(
  family: Family,
  data: JsonSchema,
  verbs: ReadonlyArray<keyof typeof HAPPENED>,
): MessageContract[] {
  const { noun } = family;
  const article = /^[aeiou]/.test(noun) ? 'An' : 'A';
  return verbs.map((verb) => event(`${noun}_${verb}`, `${article} ${noun} ${HAPPENED[verb]}`, family, data));
}

const experimentData = resourceData('experiment', EXPERIMENT, EXPERIMENT_SUMMARY);
const taskData = resourceData('task', TASK, TASK_SUMMARY);
const workerData = resourceData('worker', WORKER, WORKER_SUMMARY);

const sends: MessageContract[] = [
  {
    name: 'connected',
    summary:
      "The first frame of a connection: the subscription response for its path's resource, with the position of the broadcast stream too",
    payload: subscriptionResponse('subscribed', {
      ...JOIN_POSITION,
      broadcast: {
        ...closed(JOIN_POSITION),
        dependencies: POSITION_PAIR,
        description:
          'Where the broadcast stream (system_status events) is; resumed with broadcast_offset/broadcast_epoch',
      },
    }),
  },
  {
    name: 'subscribed',
    summary: "A subscribe's response, with the resource stream's position (SPEC §11)",
    payload: subscriptionResponse('subscribed', JOIN_POSITION),
  },
  { name: 'unsubscribed', summary: "An unsubscribe's response", payload: subscriptionResponse('unsubscribed') },
  {
    name: 'status_snapshot',
    summary: "The answer to a `system_status` frame without an action: this instance's statistics",
    payload: serverFrame(
      { const: 'system_status' },
      freshId('system'),
      { data: closed(STATISTICS, Object.keys(STATISTICS)) },
      ['data'],
    ),
  },
  ...resourceEvents(EXPERIMENT_EVENTS, experimentData, ['created', 'updated', 'completed', 'failed']),
  event('experiment_progress', "An experiment's progress", EXPERIMENT_EVENTS, EXPERIMENT_PROGRESS),
  ...resourceEvents(TASK_EVENTS, taskData, ['created', 'updated', 'completed', 'failed']),
  event('task_progress', "A task's progress", TASK_EVENTS, TASK_PROGRESS),
  ...resourceEvents(WORKER_EVENTS, workerData, ['registered', 'updated', 'offline']),
  event(
    'system_status',
    "System status, to every scheduler connection: seed 001's statistics (a host may add fields)",
    SYSTEM_EVENTS,
    open(STATISTICS, Object.keys(STATISTICS)),
  ),
  {
    name: 'pong',
    summary: 'The answer to a ping: its id with a leading `ping` made `pong` (a fresh `pong-…` id when it had none)',
    payload: serverFrame({ const: 'pong' }, text(), {}, []),
  },
  {
    name: 'ping',
    summary: 'The heartbeat, every WS_HEARTBEAT_INTERVAL: answer with a pong frame',
    payload: serverFrame({ const: 'ping' }, freshId('ping'), {}, []),
  },
  {
    name: 'error',
    summary:
      'A refusal, under the request id when the frame had one (else a fresh `error-…` id); the connection goes on unless it is then closed (4401, 4403, 4429)',
    payload: serverFrame(
      { const: 'error' },
      text(),
      {
        error: {
          enum: [
            'Invalid message format',
            'Unknown message type',
            'Forbidden',
            'Rate limit exceeded',
            'Too many subscriptions',
            'Too many connections',
            'Authentication required',
            'Invalid or expired token',
            'Internal server error',
          ],
        },
      },
      ['error'],
    ),
  },
];

// ---------------------------------------------------------------------------------------------
// The upgrade's query: where the client resumes the streams the connection opens with (SPEC §11)
// ---------------------------------------------------------------------------------------------

const QUERY_OFFSET: JsonSchema = { type: 'string', pattern: '^\\d{1,15}$' };
const QUERY_EPOCH: JsonSchema = { type: 'string', minLength: 1, maxLength: 64 };

/** The scheduler gateway's wire contract (seed 001, SPEC §4, §10, §11). */
export const SCHEDULER_CONTRACT: GatewayContract = {
  title: 'Scheduler subscriptions',
  description:
    "Experiment, task, worker and system events of seed 001 (Airavata scheduler). A connection is subscribed to its path's resource (`/ws/user`: its own user), subscribes to more with `system_status` frames, and gets each routed event once; every frame is `{type, id, timestamp, data?, error?}`, events also carry `positions`.",
  parameters: {
    experimentId: 'The experiment whose events (and its tasks’) the connection gets: 1 to 128 of A-Z a-z 0-9 _ . ~ -',
    taskId: 'The task whose events the connection gets: 1 to 128 of A-Z a-z 0-9 _ . ~ -',
    projectId: 'The project whose experiments’ and tasks’ events the connection gets: 1 to 128 of A-Z a-z 0-9 _ . ~ -',
  },
  query: {
    type: 'object',
    properties: {
      offset: { ...QUERY_OFFSET, description: "The last offset the client saw in the path resource's stream" },
      epoch: { ...QUERY_EPOCH, description: "That stream's epoch, with `offset`" },
      broadcast_offset: { ...QUERY_OFFSET, description: 'The last offset the client saw in the broadcast stream' },
      broadcast_epoch: { ...QUERY_EPOCH, description: "The broadcast stream's epoch, with `broadcast_offset`" },
    },
    dependencies: {
      offset: ['epoch'],
      epoch: ['offset'],
      broadcast_offset: ['broadcast_epoch'],
      broadcast_epoch: ['broadcast_offset'],
    },
  },
  receives,
  sends,
};
