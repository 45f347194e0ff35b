import type { GatewayContract, JsonSchema, MessageContract } from '../core/contract/index.js';
import {
  closed,
  open,
  text,
  DATE_TIME,
  freshId,
  RESOURCE_TYPE,
  RESOURCE_ID_SCHEMA,
  USER_ID_SCHEMA,
  NO_HOSTILE_KEYS,
  JOIN_POSITION,
  POSITION_PAIR,
  SINCE,
  serverFrame,
  type Properties,
} from './scheduler-contract-schemas.js';
import {
  STATISTICS,
  EXPERIMENT,
  EXPERIMENT_SUMMARY,
  TASK,
  TASK_SUMMARY,
  WORKER,
  WORKER_SUMMARY,
  EXPERIMENT_PROGRESS,
  TASK_PROGRESS,
  EXPERIMENT_EVENTS,
  TASK_EVENTS,
  WORKER_EVENTS,
  SYSTEM_EVENTS,
  event,
  resourceData,
  resourceEvents,
} from './scheduler-event-contracts.js';

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
            'Token subject does not match the connection',
            'Authentication unavailable',
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
