import type { GatewayContract, JsonSchema, MessageContract } from '../core/contract/index.js';
import type { ChatEventType } from './chat-events.js';
import { DELIVERABLE_ROOM } from './chat-room.js';
import { CHAT_DEFAULTS } from './chat.options.js';

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

/** `chat-events.ts` `timestamp()`: `Date#toISOString`, UTC with milliseconds. */
const timestamp = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' } as const;

/** A room a client may join, leave or send to (`chat-room.ts` `parseJoinableRoom`; anything else is 4403). */
const joinableRoom = {
  type: 'string',
  pattern: '^(channel|project|task):[0-9]{1,20}$',
  description: '`channel`, `project` or `task`, a colon, 1 to 20 digits',
} as const;

/** Any room a server event may go to: a joinable room or a `user:<id>` room (`DELIVERABLE_ROOM`). */
const deliverableRoom = { type: 'string', pattern: DELIVERABLE_ROOM.source } as const;

/** The token's `sub` as it carried it: a number stays a number. */
const userId = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'number' }] } as const;

/** `username`, else `preferred_username`, else `sub`; cut to 256 characters (SPEC §10.1). */
const username = { type: 'string', minLength: 1, maxLength: 256 } as const;

/** A stream's epoch (SPEC §11): what the server sends, a client sends back. */
const epoch = { type: 'string', minLength: 1, maxLength: 64 } as const;

/** A stream's current position, in a join's reply: 0 when the stream has had no event in this epoch. */
const currentOffset = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

/** An event's position in its stream: the first event of an epoch is 1. */
const eventOffset = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;

/** Keys the server refuses anywhere in a frame (4400 `Forbidden key: …`). */
const safeKeys = { not: { enum: ['__proto__', 'constructor', 'prototype'] } } as const;

/** Any JSON object (a host's event data); null and arrays are not objects. */
const anyObject = { type: 'object' } as const;

// ---------------------------------------------------------------------------------------------
// Frame builders
// ---------------------------------------------------------------------------------------------

type Properties = Record<string, JsonSchema>;

/**
 * A client frame `{type, …}`. Fields the DTOs do not name are accepted and ignored (the frame pipe
 * does not whitelist), so extra properties are allowed; prototype keys are not.
 */
function clientFrame(type: string, properties: Properties = {}, required: string[] = []): JsonSchema {
  return {
    type: 'object',
    properties: { type: { const: type }, ...properties },
    required: ['type', ...required],
    propertyNames: safeKeys,
  };
}

/** A server frame: exactly these fields. */
function serverFrame(type: string, properties: Properties, required: string[]): JsonSchema {
  return {
    type: 'object',
    properties: { type: { const: type }, ...properties, timestamp },
    required: ['type', ...required, 'timestamp'],
    additionalProperties: false,
  };
}

/** An object with exactly `properties`, `required` among them. */
function exactObject(properties: Properties, required: string[], more: JsonSchema = {}): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: false, ...more };
}

/**
 * A server event `{type, room, data, sender, timestamp}` (seed 000), with its position in the room's
 * stream (SPEC §11) whenever history is on: `stream` (the room), `offset`, `epoch`, all three or none.
 */
function event(type: string, summary: string, room: JsonSchema, data: JsonSchema): MessageContract {
  return {
    name: type,
    summary,
    payload: {
      type: 'object',
      properties: {
        type: { const: type },
        room,
        data,
        sender: { type: ['string', 'null'], description: "The sender's username, or null for the server" },
        timestamp,
        stream: { ...room, description: 'The room, as the stream the position belongs to' },
        offset: eventOffset,
        epoch,
      },
      required: ['type', 'room', 'data', 'sender', 'timestamp'],
      additionalProperties: false,
      dependencies: { stream: ['offset', 'epoch'], offset: ['stream', 'epoch'], epoch: ['stream', 'offset'] },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

/** `join_room`'s `data.since`: the last position the client saw in the room (`StreamPositionDto`). */
const since = {
  type: ['object', 'null'],
  properties: { offset: currentOffset, epoch },
  required: ['offset', 'epoch'],
  propertyNames: safeKeys,
  description: 'Resume after this position: the missed events follow the reply (SPEC §11)',
} as const;

const RECEIVES: MessageContract[] = [
  {
    name: 'join_room',
    summary: 'Joins a room, resuming it after `data.since` when given; others in the room get `user_joined`',
    payload: clientFrame(
      'join_room',
      {
        room: joinableRoom,
        data: { type: ['object', 'null'], properties: { since }, propertyNames: safeKeys },
      },
      ['room'],
    ),
  },
  {
    name: 'leave_room',
    summary: 'Leaves a room; others in it get `user_left` when it was the user’s last connection there',
    payload: clientFrame('leave_room', { room: joinableRoom }, ['room']),
  },
  {
    name: 'send_message',
    summary: 'Sends `data.content` to every member of a room the connection has joined, itself included',
    payload: clientFrame(
      'send_message',
      {
        room: joinableRoom,
        data: {
          type: 'object',
          properties: {
            content: {
              type: 'string',
              minLength: 1,
              maxLength: CHAT_DEFAULTS.maxContentLength,
              description: 'At most `chat.maxContentLength` (CHAT_MAX_CONTENT_LENGTH, default 4000) UTF-16 code units',
            },
          },
          required: ['content'],
          propertyNames: safeKeys,
        },
      },
      ['room', 'data'],
    ),
  },
  { name: 'ping', summary: 'Asks for a `pong`', payload: clientFrame('ping') },
];

/** Events a host publishes (ChatPublisher, `POST /ws/publish`): any data object, to any deliverable room. */
const HOST_EVENTS: Record<Exclude<ChatEventType, 'message' | 'user_joined' | 'user_left' | 'error'>, string> = {
  'message.edited': 'A message was edited',
  'message.deleted': 'A message was deleted',
  'task.created': 'A task was created',
  'task.updated': 'A task was updated',
  'task.status_changed': "A task's status changed",
  'task.assigned': 'A task was assigned',
  'task.deleted': 'A task was deleted',
  'project.updated': 'A project was updated',
  'project.archived': 'A project was archived',
  'notification.new': 'A notification, to every connection of one user through its own `user:<sub>` room',
};

/** `user_joined` / `user_left`: the user whose first connection entered, or last one left, the room. */
const presenceData = exactObject({ user_id: userId, username }, ['user_id', 'username']);

const EVENTS: MessageContract[] = [
  event(
    'message',
    'A message: from `send_message` (`data`: `content`, `user_id`, `username`), or published by the host',
    deliverableRoom,
    {
      type: 'object',
      properties: { content: { type: 'string', minLength: 1 }, user_id: userId, username },
    },
  ),
  ...Object.entries(HOST_EVENTS).map(([type, summary]) => event(type, summary, deliverableRoom, anyObject)),
  event('user_joined', "A user's first connection joined the room", joinableRoom, presenceData),
  event('user_left', "A user's last connection left the room (or disconnected)", joinableRoom, presenceData),
];

const SENDS: MessageContract[] = [
  {
    name: 'connected',
    summary:
      "The first frame of a connection; with history on, the position of the user's own room (resumed from the query's `offset`/`epoch`)",
    payload: serverFrame(
      'connected',
      {
        data: exactObject(
          {
            message: { const: 'Connected successfully' },
            user_id: userId,
            username,
            connection_id: { type: 'string', format: 'uuid' },
            stream: { type: 'string', pattern: '^user:[\\s\\S]+$', description: 'The user room, `user:<sub>`' },
            recovered: { type: 'boolean', description: 'Present when the upgrade named a position' },
            offset: currentOffset,
            epoch,
          },
          ['message', 'user_id', 'username', 'connection_id'],
          { dependencies: { recovered: ['stream'], offset: ['stream', 'epoch'], epoch: ['stream', 'offset'] } },
        ),
      },
      ['data'],
    ),
  },
  {
    name: 'room_joined',
    summary: "`join_room`'s reply, with the room stream's position (SPEC §11); the missed events follow it",
    payload: serverFrame(
      'room_joined',
      {
        room: joinableRoom,
        data: exactObject(
          {
            room: joinableRoom,
            recovered: { type: 'boolean', description: 'Present when the join named `since`' },
            offset: currentOffset,
            epoch,
          },
          ['room'],
          { dependencies: { offset: ['epoch'], epoch: ['offset'] } },
        ),
      },
      ['room', 'data'],
    ),
  },
  {
    name: 'room_left',
    summary: "`leave_room`'s reply",
    payload: serverFrame('room_left', { room: joinableRoom, data: exactObject({ room: joinableRoom }, ['room']) }, [
      'room',
      'data',
    ]),
  },
  ...EVENTS,
  { name: 'pong', summary: 'The answer to `ping`', payload: serverFrame('pong', {}, []) },
  {
    name: 'error',
    summary:
      'A refusal; the connection stays open, unless it is closed right after with the same code (4401, 4429 at the door)',
    payload: serverFrame(
      'error',
      {
        data: exactObject(
          {
            error: { type: 'string', minLength: 1 },
            code: {
              enum: [4400, 4401, 4403, 4429, 4500, 4503],
              description:
                '4400 malformed frame, 4401 authentication (a refused refresh too), 4403 bad room / access denied / not a member, 4429 rate limit, too many rooms or connections, 4500 internal, 4503 authentication unavailable (the authenticator failed)',
            },
          },
          ['error', 'code'],
        ),
      },
      ['data'],
    ),
  },
];

/** The chat gateway's frames, each with its JSON Schema (SPEC §3, §10, §11; seed 000). */
export const CHAT_CONTRACT: GatewayContract = {
  title: 'Chat rooms',
  description:
    'Rooms `channel|project|task:<digits>` (seed 000): clients join, leave and send messages; the host publishes events to rooms and notifications to each user’s own `user:<sub>` room. Every event carries its position in the room’s stream while history is on.',
  query: {
    type: 'object',
    properties: {
      offset: {
        type: 'string',
        pattern: '^[0-9]{1,15}$',
        description: 'With `epoch`: the last position seen in the user room, to resume it from (SPEC §11)',
      },
      epoch: { ...epoch, description: 'With `offset`: the epoch of that position' },
    },
    dependencies: { offset: ['epoch'], epoch: ['offset'] },
  },
  receives: RECEIVES,
  sends: SENDS,
};
