import { BROADCAST } from '../../bus/stream-position.js';
import { arrayOf, isNumber, isString, nullable, oneOf, shape } from '../text/json-decode.js';
import type { Connection } from '../transport/connection.js';

/** A connection as the admin views show it, on whichever instance holds it. */
export interface ClientDescriptor {
  id: string;
  gateway: string;
  user_id: string | number | null;
  username: string | null;
  ip: string;
  user_agent: string;
  connected_at: string;
  last_seen: string;
  /** The first `ROOMS_LISTED` rooms or subscriptions in lists; all of them for one local client. */
  rooms: string[];
  rooms_total: number;
  messages_in: number;
  messages_out: number;
  instance: string;
}

/** Rooms a client list shows per client: lists of 1,000 clients stay small (SPEC.md §10.1). */
export const ROOMS_LISTED = 32;

export function describeConnection(
  connection: Connection,
  instance: string,
  roomLimit: number = ROOMS_LISTED,
): ClientDescriptor {
  return {
    id: connection.id,
    gateway: connection.gateway,
    user_id: connection.principal?.userId ?? null,
    username: connection.principal?.username ?? null,
    ip: connection.ip,
    user_agent: connection.userAgent,
    connected_at: new Date(connection.connectedAt).toISOString(),
    last_seen: new Date(connection.lastSeenAt).toISOString(),
    rooms: firstOf(connection, roomLimit),
    rooms_total: connection.topics.size - (connection.topics.has(BROADCAST) ? 1 : 0),
    messages_in: connection.messagesIn,
    messages_out: connection.messagesOut,
    instance,
  };
}

/** The broadcast stream, which every connection of its gateway is in, is not listed. */
function firstOf(connection: Connection, limit: number): string[] {
  const first: string[] = [];
  for (const topic of connection.topics) {
    if (first.length >= limit) break;
    if (topic !== BROADCAST) first.push(topic);
  }
  return first;
}

/** How another instance's published client list is checked when read back from Redis. */
export const isClientList = arrayOf(
  shape<ClientDescriptor>({
    id: isString,
    gateway: isString,
    user_id: nullable(oneOf<string | number>(isString, isNumber)),
    username: nullable(isString),
    ip: isString,
    user_agent: isString,
    connected_at: isString,
    last_seen: isString,
    rooms: arrayOf(isString),
    rooms_total: isNumber,
    messages_in: isNumber,
    messages_out: isNumber,
    instance: isString,
  }),
);
