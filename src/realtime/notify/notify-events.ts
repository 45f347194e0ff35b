/** Seed 002's `WebSocketMessage`: every frame of the notify gateway, both ways. @publicApi */
export interface NotifyFrame {
  type: string;
  content: unknown;
  meta: Record<string, unknown>;
  timestamp: string;
}

/** What the host sends: a type, its content and optional meta (the timestamp is added). @publicApi */
export interface NotifyMessage {
  type: string;
  content?: unknown;
  meta?: Record<string, unknown>;
}

/** A frame a notify client sent, as the host app receives it. @publicApi */
export interface NotifyInbound {
  clientId: string;
  /** The token's `sub` of the client. */
  userId: string | number | undefined;
  type: string;
  content: unknown;
  meta: Record<string, unknown>;
  receivedAt: string;
}

/** A notify client id in a path (SPEC.md §6). */
export const CLIENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function notifyFrame(type: string, content: unknown, meta: Record<string, unknown> = {}): NotifyFrame {
  return { type, content, meta, timestamp: new Date().toISOString() };
}
