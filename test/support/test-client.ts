import WebSocket from 'ws';
import { channelOf, checkFrame } from './frame-contract.js';

export type Frame = Record<string, any>;

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A real `ws` client that records every frame, so tests can wait for the next one (optionally
 * matching a predicate) or for the close, without racing the socket.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private cursor = 0;
  /** Where its frames are checked against the AsyncAPI document (none for a path no gateway serves). */
  private readonly channel: ReturnType<typeof channelOf>;

  constructor(
    readonly url: string,
    options: WebSocket.ClientOptions = {},
  ) {
    this.channel = channelOf(url);
    this.socket = new WebSocket(url, options);
    this.socket.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.socket.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.socket.on('message', (data) => this.record((data as Buffer).toString()));
  }

  readonly socket: WebSocket;

  static async open(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
    const client = new TestClient(url, options);
    await client.opened;
    return client;
  }

  /**
   * Sends `frame`, checked against the document's client frames unless marked `invalid` (a test that
   * sends a bad frame on purpose).
   */
  send(frame: Frame | string | Buffer, { invalid = false }: { invalid?: boolean } = {}): void {
    if (!invalid) checkFrame(this.channel, 'receive', sentFrame(frame));
    this.socket.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** The next frame not yet consumed (matching `match`, skipping others), within `timeoutMs`. */
  next(match: (frame: Frame) => boolean = () => true, timeoutMs = 3000): Promise<Frame> {
    for (; this.cursor < this.frames.length;) {
      const frame = this.frames[this.cursor++];
      if (match(frame)) return Promise.resolve(frame);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      const done = (frame: Frame): void => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  nextOfType(type: string, timeoutMs?: number): Promise<Frame> {
    return this.next((frame) => frame.type === type, timeoutMs);
  }

  /** Resolves when the socket closes, or rejects after `timeoutMs`. */
  async waitClose(timeoutMs = 3000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Frames of `type` received so far. */
  ofType(type: string): Frame[] {
    return this.frames.filter((frame) => frame.type === type);
  }

  close(): void {
    this.socket.close();
  }

  terminate(): void {
    this.socket.terminate();
  }

  private record(text: string): void {
    this.raw.push(text);
    let frame: Frame;
    try {
      frame = JSON.parse(text);
    } catch {
      frame = { unparsable: text };
    }
    checkFrame(this.channel, 'send', frame);
    this.frames.push(frame);
    const waiter = this.waiters.find((w) => w.match(frame));
    if (waiter) {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      this.cursor = this.frames.length;
      waiter.resolve(frame);
    }
  }
}

/** What a sent frame is as JSON: a binary or unparsable one is no frame of any contract. */
function sentFrame(frame: Frame | string | Buffer): unknown {
  if (Buffer.isBuffer(frame)) return { binary: frame.length };
  if (typeof frame !== 'string') return frame;
  try {
    return JSON.parse(frame) as unknown;
  } catch {
    return { unparsable: frame.slice(0, 200) };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true, or fails after `timeoutMs` (`what` names the condition in the error). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`${typeof what === 'string' ? what : what()} not met within ${timeoutMs} ms`);
}

/** The last frames `client` received, for failure messages. */
export const lastFrames = (client: TestClient): string => JSON.stringify(client.frames.slice(-4)).slice(0, 600);

/** A sent payload as failure messages show it. */
function shown(payload: Frame | string | Buffer): string {
  const text = Buffer.isBuffer(payload) ? '<binary>' : typeof payload === 'string' ? payload : JSON.stringify(payload);
  return text.slice(0, 100);
}

/**
 * Resolves with the first frame from index `start` of `client.frames` that matches, or rejects
 * after `timeoutMs` (or when the socket closes first). Reads the frames array only, so it leaves
 * `next()`'s cursor alone and never misses a frame that arrived before it was called.
 */
export function waitFrame(
  client: TestClient,
  match: (frame: Frame) => boolean,
  start = 0,
  timeoutMs = 5000,
  what = 'a matching frame',
): Promise<Frame> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const found = client.frames.slice(start).find(match);
      if (!found) return false;
      cleanup();
      resolve(found);
      return true;
    };
    const onClose = (code: number, reason: Buffer): void => {
      setImmediate(() => {
        if (check()) return;
        cleanup();
        reject(new Error(`socket closed (${code} ${reason.toString()}) before ${what}; frames ${lastFrames(client)}`));
      });
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${what} within ${timeoutMs} ms; last frames ${lastFrames(client)}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      client.socket.off('message', check);
      client.socket.off('close', onClose);
    };
    // registered after TestClient's own listener, so the frame is already recorded when this runs
    client.socket.on('message', check);
    client.socket.on('close', onClose);
    check();
  });
}

/** Sends `payload` as is and resolves with the first frame after it that `isReply` takes for the reply. */
export function replyTo(
  client: TestClient,
  payload: Frame | string | Buffer,
  isReply: (frame: Frame) => boolean,
  timeoutMs: number,
): Promise<Frame> {
  const start = client.frames.length;
  client.send(payload);
  return waitFrame(client, isReply, start, timeoutMs, `a reply to ${shown(payload)}`);
}

/**
 * A waiter for frames of one kind (`among` picks them from a client's frames): it waits until a
 * client has at least `count` of them matching `match` and resolves with all that match.
 */
export function frameWaiter(among: (client: TestClient) => Frame[], what: string) {
  return async (
    client: TestClient,
    match: (frame: Frame) => boolean,
    count = 1,
    timeoutMs = 5000,
  ): Promise<Frame[]> => {
    const matching = (): Frame[] => among(client).filter(match);
    await eventually(
      () => matching().length >= count,
      timeoutMs,
      () => `${count} matching ${what}; last frames ${lastFrames(client)}`,
    );
    return matching();
  };
}

/**
 * The quiet point of exactly-once checks: `roundTrip` on each client (a ping answered, an event
 * seen: whatever was fanned out to it before is then in its `frames`), then `extraMs` more.
 */
export async function quietAfter(
  clients: TestClient[],
  roundTrip: (client: TestClient) => Promise<unknown>,
  extraMs: number,
): Promise<void> {
  await Promise.all(clients.map(roundTrip));
  await sleep(extraMs);
}

/** Closes the clients and waits until each socket is closed. */
export async function closeAll(clients: TestClient[]): Promise<void> {
  for (const client of clients) client.close();
  await Promise.all(clients.map((c) => c.waitClose(5000).catch(() => undefined)));
}

/** A connection the server refuses after the upgrade: the frames it got and how it was closed. */
export async function refused(
  url: string,
  options: WebSocket.ClientOptions = {},
  timeoutMs = 3000,
): Promise<{ frames: Frame[]; code: number; reason: string }> {
  const client = new TestClient(url, options);
  const { code, reason } = await client.waitClose(timeoutMs);
  return { frames: client.frames, code, reason };
}

/** The HTTP status an upgrade gets (101 when it is upgraded; the socket is then closed). */
export async function upgradeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  const client = new TestClient(url, options);
  return client.opened.then(
    () => {
      client.close();
      return 101;
    },
    (error: Error) => Number(/HTTP (\d+)/.exec(error.message)?.[1] ?? 0),
  );
}

// ---------------------------------------------------------------------------------------------
// Rate limits under a sustained flood (SPEC §10)
// ---------------------------------------------------------------------------------------------

/** Ten frames (`frame(i)`) every 50 ms for 2.5 s, then 200 ms for the replies; resolves with the ms since it started. */
export async function sustainedFlood(client: TestClient, frame: (i: number) => Frame): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 2_500) {
    for (let i = 0; i < 10; i++) client.send(frame(i));
    await sleep(50);
  }
  await sleep(200);
  return Date.now() - started;
}

/**
 * The rate-limit notices of a flood `elapsedMs` long: two at least, one a second at most (and,
 * when `stamped`, their `timestamp`s 990 ms apart at least).
 */
export function expectOnePerSecond(notices: Frame[], elapsedMs: number, stamped = true): void {
  expect(notices.length).toBeGreaterThanOrEqual(2);
  expect(notices.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 1000));
  if (!stamped) return;
  const times = notices.map((notice) => Date.parse(notice.timestamp as string));
  for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(990);
}

/** `served` frames of a flood `elapsedMs` long kept to the bucket: its `burst`, then `perSecond` a second. */
export function expectWithinRate(served: number, elapsedMs: number, burst: number, perSecond: number): void {
  expect(served).toBeGreaterThanOrEqual(burst);
  expect(served).toBeLessThanOrEqual(burst + Math.ceil((elapsedMs / 1000) * perSecond) + 1);
}
