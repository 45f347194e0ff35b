import { CloseCode } from '../gateway/realtime-error.js';
import type { Connection } from '../transport/connection.js';
import type { JoinedStream } from './join-answer.js';

/** A reply, and what follows it once sent: the missed events of the streams it joined. */
export interface ReplyThen<T = object> {
  reply: T;
  release(): void;
}

export const NOTHING_FOLLOWS = (): void => undefined;

/** A join's position fields, as every gateway's reply carries them: `recovered`, `offset`, `epoch` (those known). */
export function positionFields(stream: JoinedStream): { recovered?: boolean; offset?: number; epoch?: string } {
  const fields: { recovered?: boolean; offset?: number; epoch?: string } = {};
  if (stream.recovered !== undefined) fields.recovered = stream.recovered;
  if (stream.position) Object.assign(fields, stream.position);
  return fields;
}

/** Sends the reply, then what follows it (the missed events of the streams it joined). */
export function sendThen(connection: Connection, answer: ReplyThen | undefined): void {
  if (!answer) return;
  connection.send(answer.reply);
  answer.release();
}

/**
 * A connection's opening (its welcome or first subscription, then its missed events): frames the
 * client sends meanwhile wait for it, and a failure closes the connection with 1011.
 */
export function openWith(connection: Connection, opening: Promise<ReplyThen | undefined>): void {
  const opened = opening
    .then((answer) => sendThen(connection, answer))
    .catch(() => connection.close(CloseCode.INTERNAL_ERROR, 'Internal error'));
  connection.holdFramesUntil(opened);
}
