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
  rooms: string[];
  messages_in: number;
  messages_out: number;
  instance: string;
}

export function describeConnection(connection: Connection, instance: string): ClientDescriptor {
  return {
    id: connection.id,
    gateway: connection.gateway,
    user_id: connection.principal?.userId ?? null,
    username: connection.principal?.username ?? null,
    ip: connection.ip,
    user_agent: connection.userAgent,
    connected_at: connection.connectedAt.toISOString(),
    last_seen: new Date(connection.lastSeenAt).toISOString(),
    rooms: [...connection.topics],
    messages_in: connection.messagesIn,
    messages_out: connection.messagesOut,
    instance,
  };
}
