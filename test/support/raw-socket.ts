import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/**
 * A client on a bare TCP socket, for what a well-behaved `ws` client never does: stop halfway
 * through an upgrade request, never answer a close frame, hold a socket open without a request,
 * or write prebuilt (premasked) frames without spending CPU on them in the test process.
 */
export interface ServerFrame {
  opcode: number;
  fin: boolean;
  payload: Buffer;
}

export class RawSocket {
  /** Every byte the server sent, in order. */
  received = Buffer.alloc(0);
  /** When the connection was established (ms since epoch). */
  readonly connectedAt: number;
  /** When the server ended or reset the connection (or it otherwise closed); undefined while open. */
  closedAt?: number;
  /** The server half-closed (FIN) or the socket closed. */
  readonly ended: Promise<number>;
  private frameOffset?: number;
  private readonly listeners: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    this.connectedAt = Date.now();
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      for (const listener of [...this.listeners]) listener();
    });
    socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => {
      const done = (): void => {
        this.closedAt ??= Date.now();
        for (const listener of [...this.listeners]) listener();
        resolve(this.closedAt);
      };
      socket.once('end', done);
      socket.once('close', done);
    });
  }

  /** A TCP connection to `127.0.0.1:port`, established (or refused: rejects). */
  static async open(port: number, host = '127.0.0.1'): Promise<RawSocket> {
    const socket = connect({ port, host });
    socket.setNoDelay(true);
    const raw = new RawSocket(socket);
    await Promise.race([
      once(socket, 'connect'),
      once(socket, 'close').then(() => {
        throw new Error('closed before connect');
      }),
    ]);
    return raw;
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  write(data: string | Buffer): boolean {
    return this.socket.write(data);
  }

  /** Writes `data`, waiting for the socket to drain when the kernel buffer is full. */
  async writeDrained(data: Buffer): Promise<void> {
    if (this.socket.destroyed) throw new Error('socket destroyed');
    if (!this.socket.write(data)) {
      await Promise.race([once(this.socket, 'drain'), this.ended]);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once `check()` holds (checked on every chunk and at close), or rejects after `timeoutMs`. */
  waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = (): void => {
        const result = check();
        if (result === undefined) return;
        cleanup();
        resolve(result);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `${what} not seen within ${timeoutMs} ms; received ${this.received.toString('latin1').slice(0, 300)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        const index = this.listeners.indexOf(listener);
        if (index >= 0) this.listeners.splice(index, 1);
      };
      this.listeners.push(listener);
      listener();
    });
  }

  /** The status line and headers of the server's HTTP response, once complete. */
  response(timeoutMs = 3000): Promise<{ status: number; head: string }> {
    return this.waitFor(
      () => {
        const end = this.received.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        this.frameOffset ??= end + 4;
        const head = this.received.subarray(0, end).toString('latin1');
        return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head };
      },
      timeoutMs,
      'an HTTP response',
    );
  }

  /** The WebSocket frames the server sent after its 101 response (complete frames only). */
  frames(): ServerFrame[] {
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return [];
    return parseServerFrames(this.received.subarray(end + 4));
  }

  /** Resolves once the server has sent a frame matching `match`. */
  waitFrame(
    match: (frame: ServerFrame) => boolean,
    timeoutMs: number,
    what = 'a matching frame',
  ): Promise<ServerFrame> {
    return this.waitFor(() => this.frames().find(match), timeoutMs, what);
  }
}

/** A WebSocket upgrade request for `path` (complete unless `partial`: then it stops in the headers). */
export function upgradeRequest(path: string, headers: Record<string, string> = {}, partial = false): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  if (partial) return `${lines.slice(0, 3).join('\r\n')}\r\n`;
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Opens `path` with a raw upgrade and waits for the 101 (rejects on any other status). */
export async function rawUpgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<RawSocket> {
  const raw = await RawSocket.open(port);
  raw.write(upgradeRequest(path, headers));
  const { status, head } = await raw.response();
  if (status !== 101) throw new Error(`upgrade answered ${head.split('\r\n')[0]}`);
  return raw;
}

/**
 * A client frame (masked, as RFC 6455 requires) of `payload`: text (opcode 1) unless told. The mask
 * is random and nonzero, so the server has to unmask every byte, as with a real client.
 */
export function clientFrame(payload: string | Buffer, opcode = 0x1): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  let mask = randomBytes(4);
  while (mask.readUInt32BE(0) === 0) mask = randomBytes(4);
  const length = data.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = 0x80 | length;
  else if (length < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const masked = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) masked[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

/** The complete (unmasked) frames a server wrote into `data`. */
export function parseServerFrames(data: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let offset = 0;
  while (offset + 2 <= data.length) {
    const fin = (data[offset] & 0x80) !== 0;
    const opcode = data[offset] & 0x0f;
    const masked = (data[offset + 1] & 0x80) !== 0;
    let length = data[offset + 1] & 0x7f;
    let cursor = offset + 2;
    if (length === 126) {
      if (cursor + 2 > data.length) break;
      length = data.readUInt16BE(cursor);
      cursor += 2;
    } else if (length === 127) {
      if (cursor + 8 > data.length) break;
      length = Number(data.readBigUInt64BE(cursor));
      cursor += 8;
    }
    if (masked) cursor += 4;
    if (cursor + length > data.length) break;
    frames.push({ opcode, fin, payload: data.subarray(cursor, cursor + length) });
    offset = cursor + length;
  }
  return frames;
}

/** The JSON text frames among `frames`. */
export function jsonFrames(frames: ServerFrame[]): Array<Record<string, any>> {
  return frames
    .filter((frame) => frame.opcode === 0x1)
    .map((frame) => {
      try {
        return JSON.parse(frame.payload.toString()) as Record<string, any>;
      } catch {
        return { unparsable: frame.payload.toString() };
      }
    });
}

/** The code and reason of a close frame. */
export function closeOf(frame: ServerFrame): { code: number; reason: string } {
  return {
    code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005,
    reason: frame.payload.subarray(2).toString(),
  };
}
