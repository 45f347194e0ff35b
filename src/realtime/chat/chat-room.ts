import type { ResourceRef } from '../core/auth/index.js';
import { RealtimeError } from '../core/gateway/index.js';

const JOINABLE_ROOM = /^(channel|project|task):(\d{1,20})$/;

/** Any room a server event may target: a joinable room or a user room. */
export const DELIVERABLE_ROOM = /^((channel|project|task):\d{1,20}|user:[^\s:]{1,128})$/;

/** A room clients may join: `channel|project|task:<digits>` (seed 000). */
export function parseJoinableRoom(room: string): ResourceRef {
  const match = JOINABLE_ROOM.exec(room);
  if (!match) throw RealtimeError.forbidden('Invalid room format');
  return { type: match[1], id: match[2] };
}

/** Every connection's own room, for `notification.new`; never joined or left by clients. */
export const userRoom = (sub: string | number): string => `user:${sub}`;

export function isDeliverableRoom(room: string): boolean {
  return DELIVERABLE_ROOM.test(room);
}
