import type { GatewayContract, JsonSchema } from '../core/contract/index.js';

/** A client id (SPEC.md §6): a path's, or the UUID `/ws` generates. */
const CLIENT_ID_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';
/** Keys the frame parser refuses at any depth (SPEC.md §10); only the first levels are described here. */
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'];
/** The types of the gateway's own frames: a host message of one of them is told apart by its stream position. */
const OWN_TYPES = ['connected', 'ping', 'pong', 'error'];

const noHostileKeys: JsonSchema = { not: { enum: HOSTILE_KEYS } };
const anyJson: JsonSchema = { description: 'Any JSON value' };
const timestamp: JsonSchema = {
  type: 'string',
  format: 'date-time',
  pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$',
  description: 'When the server sent it: ISO 8601 UTC with milliseconds',
};
/** A message type, as the inbound DTO and `POST /ws/send-message` bound it. */
const messageType: JsonSchema = { type: 'string', minLength: 1, maxLength: 64 };
/** The `meta` of the gateway's own frames: always `{}`. */
const emptyMeta: JsonSchema = { type: 'object', maxProperties: 0 };
/** A `meta` a client or the host gives: any object. */
const openMeta: JsonSchema = { type: 'object', propertyNames: noHostileKeys };

/** An epoch as the server makes them (SPEC.md §11): it names one life of a stream's history. */
const epoch: JsonSchema = { type: 'string', pattern: '^[0-9a-z]{8}$' };
/** A stream position in a query string: the digits of an offset and an epoch, as the server reads them. */
const queryOffset = (stream: string): JsonSchema => ({
  type: 'string',
  pattern: '^\\d{1,15}$',
  description: `The offset of the last message seen in ${stream}`,
});
const queryEpoch = (stream: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description: `The epoch of that message of ${stream}`,
});

/** Where a stream stands in the welcome: whether the named position was recovered, and the position now. */
const welcomeStream: JsonSchema = {
  type: 'object',
  properties: {
    recovered: { type: 'boolean', description: 'Only when the query named a position for this stream' },
    offset: { type: 'integer', minimum: 0, description: 'The stream position the client is at: 0 before any' },
    epoch,
  },
  dependencies: { offset: ['epoch'], epoch: ['offset'] },
  additionalProperties: false,
};

/** A server frame: seed 002's `{type, content, meta, timestamp}`, nothing else. */
const sent = (type: JsonSchema, content: JsonSchema, meta: JsonSchema): JsonSchema => ({
  type: 'object',
  properties: { type, content, meta, timestamp },
  required: ['type', 'content', 'meta', 'timestamp'],
  additionalProperties: false,
});

/**
 * A client frame of `type`: `content` and `meta` optional, other fields ignored (the server does not
 * refuse them); keys that could reach a prototype are refused.
 */
const received = (type: JsonSchema, meta: JsonSchema, required: string[] = []): JsonSchema => ({
  type: 'object',
  properties: { type, content: anyJson, meta },
  required: ['type', ...required],
  propertyNames: noHostileKeys,
});

const ERRORS = [
  'Authentication required',
  'Invalid or expired token',
  'Token subject does not match the connection',
  'Authentication unavailable',
  'Too many connections',
  'Client id in use',
  'Rate limit exceeded',
  'Invalid JSON',
  'Frame must be a JSON object',
  'Binary frames are not supported',
  'Missing message type',
  'type must be 1 to 64 characters',
  'meta must be an object',
  'Internal server error',
];

/** The notify gateway's frames (seed 002, SPEC.md §6, §10, §11), each with its JSON Schema. */
export const NOTIFY_CONTRACT: GatewayContract = {
  title: 'Notify clients',
  description:
    'Seed 002 `{type, content, meta, timestamp}` frames both ways, to one client id or to every client. ' +
    '`/ws/{clientId}` names the client (its owner is the principal that first connected with it; a second ' +
    'connection of the owner replaces the first, closed 4409), `/ws` generates a UUID. Refusals send an error ' +
    'frame and close with 4401, 4403 `Client id in use` or 4429 `Too many connections`; any other bad frame ' +
    'gets an error frame and the connection goes on. Messages carry their position in the client’s stream ' +
    '(`client:<id>`) or the broadcast stream (`broadcast`), from which a reconnecting client resumes.',
  parameters: {
    clientId:
      'The client id: 1 to 64 letters, digits, `_`, `.` or `-` (`^[A-Za-z0-9_.-]{1,64}$`); it belongs to the principal that first connected with it',
  },
  query: {
    type: 'object',
    properties: {
      offset: queryOffset('the client’s own stream (its owner only)'),
      epoch: queryEpoch('the client’s own stream'),
      broadcast_offset: queryOffset('the broadcast stream'),
      broadcast_epoch: queryEpoch('the broadcast stream'),
    },
    dependencies: {
      offset: ['epoch'],
      epoch: ['offset'],
      broadcast_offset: ['broadcast_epoch'],
      broadcast_epoch: ['broadcast_offset'],
    },
  },
  receives: [
    {
      name: 'ping',
      summary: 'Asks for a pong that carries the same `meta.ping_id`',
      payload: received(
        { const: 'ping' },
        { type: 'object', properties: { ping_id: { type: 'string' } }, propertyNames: noHostileKeys },
      ),
    },
    {
      name: 'pong',
      summary: "Answers the server's ping with its `ping_id` (any frame keeps the client alive)",
      payload: received(
        { const: 'pong' },
        {
          type: 'object',
          properties: { ping_id: { type: 'string' }, timestamp: { type: 'number' } },
          required: ['ping_id'],
          propertyNames: noHostileKeys,
        },
        ['meta'],
      ),
    },
    {
      name: 'message',
      summary:
        'Any other type (`ping`, `pong` and `refresh` are the gateway’s own): handed to the host app (`NotifyPublisher.messages()`), nothing is sent back',
      payload: received({ ...messageType, not: { enum: ['ping', 'pong', 'refresh'] } }, openMeta),
    },
  ],
  sends: [
    {
      name: 'connected',
      summary: 'The first frame: the client id, and where its streams stand (SPEC.md §11) while history is on',
      payload: sent(
        { const: 'connected' },
        {
          type: 'object',
          properties: {
            client_id: { type: 'string', pattern: CLIENT_ID_PATTERN },
            streams: {
              type: 'object',
              properties: { broadcast: welcomeStream },
              patternProperties: { '^client:[A-Za-z0-9_.-]{1,64}$': welcomeStream },
              required: ['broadcast'],
              minProperties: 2,
              maxProperties: 2,
              additionalProperties: false,
            },
          },
          required: ['client_id'],
          additionalProperties: false,
        },
        emptyMeta,
      ),
    },
    {
      name: 'message',
      summary:
        'A message from the host app or `POST /ws/send-message`, to this client or to all, with its stream position',
      payload: {
        type: 'object',
        properties: {
          type: messageType,
          content: anyJson,
          meta: openMeta,
          timestamp,
          stream: {
            type: 'string',
            pattern: '^(broadcast|client:[A-Za-z0-9_.-]{1,64})$',
            description: '`client:<id>` for a message to this client, `broadcast` for one to every client',
          },
          offset: { type: 'integer', minimum: 1 },
          epoch,
        },
        required: ['type', 'content', 'meta', 'timestamp'],
        additionalProperties: false,
        dependencies: { stream: ['offset', 'epoch'], offset: ['stream', 'epoch'], epoch: ['stream', 'offset'] },
        if: { properties: { type: { enum: OWN_TYPES } } },
        then: { required: ['stream', 'offset', 'epoch'] },
      },
    },
    {
      name: 'ping',
      summary: 'The app-level heartbeat, every `WS_HEARTBEAT_INTERVAL`: answer with a pong carrying its `ping_id`',
      payload: sent(
        { const: 'ping' },
        { const: 'ping' },
        {
          type: 'object',
          properties: { ping_id: { type: 'string', format: 'uuid' } },
          required: ['ping_id'],
          additionalProperties: false,
        },
      ),
    },
    {
      name: 'pong',
      summary: "The answer to a client's ping, with its `ping_id` (null when it had none)",
      payload: sent(
        { const: 'pong' },
        { const: 'pong' },
        { type: 'object', properties: { ping_id: anyJson }, required: ['ping_id'], additionalProperties: false },
      ),
    },
    {
      name: 'error',
      summary: 'Any refusal, worded in `content`; the connection stays open unless it is closed right after',
      payload: sent(
        { const: 'error' },
        {
          anyOf: [
            { enum: ERRORS },
            { type: 'string', pattern: '^JSON nested deeper than \\d+$' },
            { type: 'string', pattern: '^JSON with more than \\d+ keys and elements$' },
            { type: 'string', pattern: `^Forbidden key: (${HOSTILE_KEYS.join('|')})$` },
          ],
        },
        emptyMeta,
      ),
    },
  ],
};
