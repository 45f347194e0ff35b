import type { GatewayContract, JsonSchema } from '../../src/realtime/index.js';

const position = {
  offset: { type: 'integer', minimum: 0, description: 'The stream position the client is at once joined' },
  epoch: { type: 'string', minLength: 1, maxLength: 64 },
} as const;

const frame = (type: string, properties: Record<string, JsonSchema> = {}, required: string[] = []): JsonSchema => ({
  type: 'object',
  properties: { type: { const: type }, ...properties },
  required: ['type', ...required],
  additionalProperties: false,
});

const requestId = { id: { type: 'string', maxLength: 64 } } as const;

/** The example host gateway's frames, each with its JSON Schema (SPEC §2: the AsyncAPI document reads it). */
export const WHITEBOARD_CONTRACT: GatewayContract = {
  title: 'Whiteboard cursors (example host gateway)',
  description: 'Collaborative cursors on a document, declared by the host application in its own module.',
  parameters: { docId: 'The document: lowercase letters, digits and dashes, 1 to 40' },
  receives: [
    {
      name: 'join',
      summary: 'Joins the document, resuming after `since` when given',
      payload: frame('join', {
        ...requestId,
        since: { type: 'object', properties: position, required: ['offset', 'epoch'], additionalProperties: false },
      }),
    },
    {
      name: 'move',
      summary: "Moves the user's cursor",
      payload: frame(
        'move',
        {
          ...requestId,
          x: { type: 'integer', minimum: 0, maximum: 100_000 },
          y: { type: 'integer', minimum: 0, maximum: 100_000 },
        },
        ['x', 'y'],
      ),
    },
    { name: 'ping', summary: 'Asks for a pong', payload: frame('ping') },
  ],
  sends: [
    {
      name: 'welcome',
      summary: 'The first frame of a connection',
      payload: frame('welcome', { doc: { type: 'string' }, connection_id: { type: 'string' } }, [
        'doc',
        'connection_id',
      ]),
    },
    {
      name: 'joined',
      summary: "The join's reply, with the stream's position (SPEC §11)",
      payload: frame('joined', { doc: { type: 'string' }, recovered: { type: 'boolean' }, ...position }, ['doc']),
    },
    {
      name: 'cursor',
      summary: 'Someone moved, with its position in the document stream',
      payload: frame(
        'cursor',
        {
          doc: { type: 'string' },
          user: { type: 'string' },
          x: { type: 'integer' },
          y: { type: 'integer' },
          stream: { type: 'string' },
          ...position,
        },
        ['doc', 'user', 'x', 'y'],
      ),
    },
    { name: 'moved', summary: "A move's acknowledgement", payload: frame('moved', requestId) },
    { name: 'pong', summary: 'The answer to ping', payload: frame('pong', { answered_by: { type: 'string' } }) },
    {
      name: 'error',
      summary: 'Any refusal; the connection stays open unless it is closed with the same code',
      payload: frame(
        'error',
        { ...requestId, error: { type: 'string' }, code: { enum: [4400, 4401, 4403, 4404, 4429, 4500] } },
        ['error', 'code'],
      ),
    },
  ],
};
