import * as ws from 'ws';
import type WebSocket from 'ws';

/**
 * The only place that reaches into `ws` past its typed API, and why:
 * - `Sender.frame` frames a broadcast once for all recipients (socket.io-adapter does the same);
 *   ws exports it, but its type definitions do not declare it.
 * - A socket's `_sender` writes such an already framed buffer without copying it again.
 * - A socket's `_socket` (the TCP or TLS socket) is corked for a turn, so that one turn's writes leave
 *   in one `writev`.
 * `ws` 8 has had these since 2021; `ws-internals.spec.ts` fails first if a release renames them.
 */

export interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

interface SenderInternals {
  /** 0 while nothing is queued in the sender (no deflate or pending write ahead of us). */
  _state: number;
  sendFrame(list: Buffer[], cb?: (err?: Error) => void): void;
}

/** The TCP (or TLS) socket under a `ws` socket. */
export interface RawSocket {
  cork(): void;
  uncork(): void;
}

const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };

/** `payload` as one WebSocket frame (header, then payload), ready to be written to any socket. */
export function frameOf(payload: Buffer, options: FrameOptions): Buffer[] {
  return Sender.frame(payload, options);
}

/** Writes an already framed message when the socket's sender is idle; false when it must go through `send`. */
export function writeFramed(socket: WebSocket, framed: Buffer[]): boolean {
  const sender = (socket as unknown as { _sender?: SenderInternals })._sender;
  if (sender?._state !== 0) return false;
  sender.sendFrame(framed);
  return true;
}

export function rawSocketOf(socket: WebSocket): RawSocket | undefined {
  return (socket as unknown as { _socket?: RawSocket })._socket;
}
