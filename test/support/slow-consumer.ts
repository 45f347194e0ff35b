import v8 from 'node:v8';
import vm from 'node:vm';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Frame, TestClient } from './test-client.js';

/**
 * Slow consumers (SPEC §9): a burst the host publishes, readers that count it as it arrives
 * without keeping it, a client that stops reading, and the heap those tests measure.
 */

/** The registry's footprint with nothing connected. */
export const EMPTY = { connections: 0, topics: 0, ips: 0 };

/** `global.gc` without `--expose-gc` (the test script does not pass it). */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The net.Socket under a `ws` client: pausing it stops reading, so the kernel buffers fill. */
export const netSocket = (client: TestClient): Socket => (client.socket as unknown as { _socket: Socket })._socket;

/**
 * A client that checks, as frames arrive, that the messages of a burst carry consecutive `seq`
 * numbers, without keeping them (tens of readers × 3000 frames would otherwise weigh hundreds of MB).
 */
export class BurstReader {
  received = 0;
  outOfOrder: string[] = [];
  others: Frame[] = [];
  readonly socket: WebSocket;
  readonly closed: Promise<number>;
  closeCode?: number;

  private constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.once('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
  }

  /**
   * Opens `url` and hands each frame to `read`, which calls `ready()` once the reader is set up
   * (within 5 s, else this fails with `what`), `count`s burst messages and keeps the rest in `others`.
   */
  static async open(
    url: string,
    what: string,
    read: (reader: BurstReader, frame: Frame, ready: () => void) => void,
  ): Promise<BurstReader> {
    const reader = new BurstReader(url);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(what)), 5000);
      const ready = (): void => {
        clearTimeout(timer);
        resolve();
      };
      reader.socket.on('message', (data) => read(reader, JSON.parse((data as Buffer).toString()) as Frame, ready));
    });
    return reader;
  }

  /** Counts a burst message: `inOrder` when its seq is the next one (`got` tells which it was, when not). */
  count(inOrder: boolean, got: string | number): void {
    if (!inOrder) this.outOfOrder.push(`expected ${this.received}, got ${got}`);
    this.received++;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }
}

export interface Burst {
  sent: number;
  maxBacklog: number;
}

export interface BurstOptions {
  /** Bytes of padding per message. */
  size: number;
  /** Messages published before yielding a turn. */
  chunk: number;
  /** The backlog to watch (its maximum is reported), read after each chunk. */
  watch?: () => number;
  /** Stops the burst early. */
  stop?: () => boolean;
}

/** Publishes `count` messages (`publish(seq, pad)`) through the host API, `chunk` at a time, yielding a turn between chunks. */
export async function publishBurst(
  publish: (seq: number, pad: string) => void,
  count: number,
  options: BurstOptions,
): Promise<Burst> {
  const { chunk, watch, stop } = options;
  const pad = 'p'.repeat(options.size);
  const result: Burst = { sent: 0, maxBacklog: 0 };
  while (result.sent < count && !stop?.()) {
    const end = Math.min(count, result.sent + chunk);
    for (; result.sent < end; result.sent++) publish(result.sent, pad);
    if (watch) result.maxBacklog = Math.max(result.maxBacklog, watch());
    await nextTurn();
  }
  return result;
}
