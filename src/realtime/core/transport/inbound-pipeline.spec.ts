import { jest } from '@jest/globals';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { of } from 'rxjs';
import type { GatewayProtocol, InboundFrame } from '../gateway/gateway-definition.js';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { RefusalLog } from '../logging/refusal-log.js';
import { Connection } from './connection.js';
import { principalOf } from './connection.fixture.js';
import { GatewayTraffic } from './gateway-traffic.js';
import { InboundPipeline, type BoundHandlers, type FrameHandler, type InboundLimits } from './inbound-pipeline.js';
import { RealtimeSocket } from './realtime-socket.js';
import { SharedByteBudgets } from './shared-byte-budgets.js';
import { TokenBucket } from './token-bucket.js';

const T0 = 1_700_000_000_000;
const PLENTY = 1 << 20;

/** A protocol keyed by `type`, whose errors carry the kind, the message and the id of the frame they answer. */
const wording = (overrides: Partial<GatewayProtocol> = {}): GatewayProtocol => ({
  gateway: 'chat',
  messageKey: (frame) => (typeof frame.type === 'string' ? frame.type : undefined),
  errorFrame: (error, frame) => ({ type: 'error', kind: error.kind, message: error.message, id: frame?.id }),
  refusal: (error) => ({ frame: {}, code: 4429, reason: error.message }),
  ...overrides,
});

const rateLimited = (id?: number): object => ({
  type: 'error',
  kind: 'rate_limited',
  message: 'Rate limit exceeded',
  id,
});
const echo = jest.fn<FrameHandler>((frame) => ({ type: 'reply', to: frame.id }));

/** The handlers of a gateway, by message key, as the adapter binds them. */
function handlersOf(byKey: Record<string, FrameHandler>): BoundHandlers {
  const entries = Object.entries(byKey);
  return {
    keys: new Map(entries.map(([key], index) => [key, index])),
    callbacks: entries.map(([, handler]) => handler),
  };
}

/** A handler whose reply the test hands over when it likes: the frames behind it wait meanwhile. */
function held(): { handler: FrameHandler; reply: (value: object) => void; fail: (error: Error) => void } {
  let reply: (value: object) => void = () => undefined;
  let fail: (error: Error) => void = () => undefined;
  const pending = new Promise<object>((resolve, reject) => {
    reply = resolve;
    fail = reject;
  });
  return { handler: () => pending, reply, fail };
}

/** A client, with every frame the server sent it, parsed, and the server's end of its socket. */
class Client {
  readonly frames: unknown[] = [];
  private arrived?: () => void;

  constructor(
    readonly ws: WebSocket,
    readonly socket: RealtimeSocket,
  ) {
    ws.on('message', (data: RawData) => {
      this.frames.push(JSON.parse((data as Buffer).toString()));
      this.arrived?.();
    });
  }

  send(...frames: Array<object | string>): void {
    for (const frame of frames) this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends `frames`; resolves once the server has read them all (its listener runs after the pipeline's). */
  deliver(...frames: Array<object | string>): Promise<void> {
    let left = frames.length;
    const read = new Promise<void>((resolve) => {
      const listener = (): void => {
        if (--left > 0) return;
        this.socket.off('message', listener);
        resolve();
      };
      this.socket.on('message', listener);
    });
    this.send(...frames);
    return read;
  }

  /** Every frame received, once `done` says they are there. */
  async until(done: (frames: unknown[]) => boolean): Promise<unknown[]> {
    while (!done(this.frames)) await new Promise<void>((resolve) => (this.arrived = resolve));
    return this.frames;
  }

  received(count: number): Promise<unknown[]> {
    return this.until((frames) => frames.length >= count);
  }
}

interface Options {
  protocol?: Partial<GatewayProtocol>;
  sub?: string;
  /** Frames: per second, burst. */
  frames?: [number, number];
  /** Bytes: per second, burst. */
  bytes?: [number, number];
  /** Called before the handlers are bound (the gateway still opening, say). */
  opening?: (connection: Connection) => void;
}

describe('InboundPipeline', () => {
  let server: WebSocketServer;
  let log: LifecycleLog;
  let summaries: RefusalLog;
  let failures: jest.Spied<LifecycleLog['error']>;
  let limited: jest.Spied<RefusalLog['summarized']>;
  let budgets: SharedByteBudgets;
  let clients: WebSocket[];

  beforeEach(async () => {
    jest.useFakeTimers({ now: T0, doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask'] });
    echo.mockClear();
    log = new LifecycleLog();
    summaries = new RefusalLog(log);
    failures = jest.spyOn(log, 'error').mockReturnValue();
    limited = jest.spyOn(summaries, 'summarized').mockReturnValue();
    budgets = new SharedByteBudgets({ perUser: PLENTY, perIp: PLENTY, burst: PLENTY });
    clients = [];
    server = new WebSocketServer({ port: 0, WebSocket: RealtimeSocket });
    await once(server, 'listening');
  });

  afterEach(async () => {
    for (const client of clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
    summaries.close();
    budgets.close();
    jest.useRealTimers();
  });

  const pipelineOf = (limits: Partial<InboundLimits> = {}, shared = budgets): InboundPipeline =>
    new InboundPipeline({ maxJsonDepth: 8, maxJsonElements: 64, maxBacklog: 4, ...limits }, shared, log, summaries);

  /** A real client and its server-side connection, bound to `handlers`. */
  async function open(
    pipeline: InboundPipeline,
    handlers: BoundHandlers,
    { protocol, sub, frames = [PLENTY, PLENTY], bytes = [PLENTY, PLENTY], opening }: Options = {},
  ): Promise<{ client: Client; connection: Connection; socket: RealtimeSocket }> {
    const accepted = once(server, 'connection') as Promise<[RealtimeSocket]>;
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    clients.push(ws);
    const [socket] = await accepted;
    await once(ws, 'open');
    const client = new Client(ws, socket);
    const connection = new Connection({
      socket,
      ip: '10.0.0.1',
      userAgent: 'spec',
      protocol: wording(protocol),
      params: {},
      principal: sub === undefined ? undefined : principalOf(sub),
      rateLimiter: new TokenBucket(...frames),
      byteBudget: new TokenBucket(...bytes),
      limits: { maxQueueSize: PLENTY, maxQueueBytes: PLENTY },
      traffic: new GatewayTraffic(),
    });
    socket.connection = connection;
    opening?.(connection);
    pipeline.bind(connection, handlers);
    return { client, connection, socket };
  }

  describe('dispatch', () => {
    it('hands each frame to the handler of its key and sends back its reply; nothing for undefined or null', async () => {
      const quiet = jest.fn<FrameHandler>(() => undefined);
      const none = jest.fn<FrameHandler>(() => null);
      const { client } = await open(pipelineOf(), handlersOf({ quiet, none, echo }));

      client.send({ type: 'quiet', id: 1 }, { type: 'none', id: 2 }, { type: 'echo', id: 3 });

      expect(await client.received(1)).toEqual([{ type: 'reply', to: 3 }]);
      expect(quiet.mock.calls).toEqual([[{ type: 'quiet', id: 1 }, 'quiet']]);
      expect(none.mock.calls).toEqual([[{ type: 'none', id: 2 }, 'none']]);
      expect(echo.mock.calls).toEqual([[{ type: 'echo', id: 3 }, 'echo']]);
    });

    it('gives a frame no handler has a key for to the fallback handler, under its own key', async () => {
      const fallback = jest.fn<FrameHandler>((_frame, key) => ({ type: 'fallback', key }));
      const { client } = await open(pipelineOf(), handlersOf({ echo, '*': fallback }));

      client.send({ type: 'other', id: 1 }, { type: 'echo', id: 2 });

      expect(await client.received(2)).toEqual([
        { type: 'fallback', key: 'other' },
        { type: 'reply', to: 2 },
      ]);
      expect(fallback.mock.calls).toEqual([[{ type: 'other', id: 1 }, 'other']]);
      expect(echo).toHaveBeenCalledTimes(1);
    });

    it('answers unknown_type, under the frame’s id, for a key without a handler or a frame without a key', async () => {
      const fallback = jest.fn<FrameHandler>(() => ({ type: 'fallback' }));
      const plain = await open(pipelineOf(), handlersOf({ echo }));
      const withFallback = await open(pipelineOf(), handlersOf({ echo, '*': fallback }));

      plain.client.send({ type: 'nope', id: 1 }, { id: 2 });
      withFallback.client.send({ id: 3 });

      expect(await plain.client.received(2)).toEqual([
        { type: 'error', kind: 'unknown_type', message: 'Unknown message type: nope', id: 1 },
        { type: 'error', kind: 'unknown_type', message: 'Missing message type', id: 2 },
      ]);
      expect(await withFallback.client.received(1)).toEqual([
        { type: 'error', kind: 'unknown_type', message: 'Missing message type', id: 3 },
      ]);
      expect(echo).not.toHaveBeenCalled();
      expect(fallback).not.toHaveBeenCalled();
    });

    it('answers a frame the parser refuses in the gateway’s words, with the id it kept, and goes on', async () => {
      const { client } = await open(pipelineOf(), handlersOf({ echo }));

      client.send(
        'not json',
        '{"id":"rq-1","type":"echo","params":{"__proto__":1}}',
        `{"id":"rq-2","type":"echo","a":${'['.repeat(8)}${']'.repeat(8)}}`,
        { type: 'echo', id: 'rq-3' },
      );

      expect(await client.received(4)).toEqual([
        { type: 'error', kind: 'bad_frame', message: 'Invalid JSON' },
        { type: 'error', kind: 'bad_frame', message: 'Forbidden key: __proto__', id: 'rq-1' },
        { type: 'error', kind: 'bad_frame', message: 'JSON nested deeper than 8' },
        { type: 'reply', to: 'rq-3' },
      ]);
      expect(echo).toHaveBeenCalledTimes(1);
    });

    it('refuses a binary frame unread, with bad_frame', async () => {
      const { client } = await open(pipelineOf(), handlersOf({ echo }));

      client.ws.send(Buffer.from('{"type":"echo","id":1}'), { binary: true });
      client.send({ type: 'echo', id: 2 });

      expect(await client.received(2)).toEqual([
        { type: 'error', kind: 'bad_frame', message: 'Binary frames are not supported' },
        { type: 'reply', to: 2 },
      ]);
      expect(echo.mock.calls).toEqual([[{ type: 'echo', id: 2 }, 'echo']]);
    });
  });

  describe('one frame at a time', () => {
    it('holds the next frame until the running handler has answered, and answers in order', async () => {
      const slow = held();
      const { client } = await open(pipelineOf(), handlersOf({ slow: slow.handler, echo }));

      await client.deliver({ type: 'slow', id: 1 }, { type: 'echo', id: 2 });
      expect(echo).not.toHaveBeenCalled();

      slow.reply({ type: 'slow-done' });
      expect(await client.received(2)).toEqual([{ type: 'slow-done' }, { type: 'reply', to: 2 }]);
    });

    it('logs a handler’s rejection as handler_failed, answers nothing for it, and handles the next frame', async () => {
      const failing = held();
      const { client } = await open(pipelineOf(), handlersOf({ fail: failing.handler, echo }));

      await client.deliver({ type: 'fail', id: 1 }, { type: 'echo', id: 2 });
      failing.fail(new Error('store unavailable'));

      expect(await client.received(1)).toEqual([{ type: 'reply', to: 2 }]);
      expect(failures.mock.calls).toEqual([
        ['handler_failed', { gateway: 'chat', type: 'fail', reason: 'store unavailable' }],
      ]);
    });

    it('treats a handler that throws at once like a rejection: logged, and the next frame is handled', async () => {
      const throwing = (): never => {
        throw new Error('thrown at once');
      };
      const { client } = await open(pipelineOf(), handlersOf({ fail: throwing, echo }));

      await client.deliver({ type: 'fail', id: 1 }, { type: 'echo', id: 2 });

      expect(await client.received(1)).toEqual([{ type: 'reply', to: 2 }]);
      expect(failures.mock.calls).toEqual([
        ['handler_failed', { gateway: 'chat', type: 'fail', reason: 'thrown at once' }],
      ]);
    });

    it('answers the last value of an observable reply (a handler behind Nest interceptors)', async () => {
      const intercepted = (frame: InboundFrame) => of({ type: 'draft' }, { type: 'reply', to: frame.id });
      const { client } = await open(pipelineOf(), handlersOf({ echo: intercepted }));

      await client.deliver({ type: 'echo', id: 7 });

      expect(await client.received(1)).toEqual([{ type: 'reply', to: 7 }]);
    });

    it('holds the frames that arrive while the gateway is still opening the connection', async () => {
      let opened: () => void = () => undefined;
      const { client } = await open(pipelineOf(), handlersOf({ echo }), {
        opening: (connection) => connection.holdFramesUntil(new Promise<void>((resolve) => (opened = resolve))),
      });

      await client.deliver({ type: 'echo', id: 1 }, { type: 'echo', id: 2 });
      expect(echo).not.toHaveBeenCalled();

      opened();
      expect(await client.received(2)).toEqual([
        { type: 'reply', to: 1 },
        { type: 'reply', to: 2 },
      ]);
    });

    it('drops the frames queued for a client that has gone', async () => {
      const slow = held();
      const { client, socket } = await open(pipelineOf(), handlersOf({ slow: slow.handler, echo }));

      await client.deliver({ type: 'slow', id: 1 }, { type: 'echo', id: 2 });
      const closed = once(socket, 'close');
      client.ws.terminate();
      await closed;

      slow.reply({ type: 'slow-done' });
      // The reply's callbacks run on microtasks: one macrotask later they are done.
      await new Promise((resolve) => setImmediate(resolve));
      expect(echo).not.toHaveBeenCalled();
    });

    it('queues at most maxBacklog frames behind a running handler: the next one is rate limited', async () => {
      const slow = held();
      const { client, connection } = await open(
        pipelineOf({ maxBacklog: 2 }),
        handlersOf({ slow: slow.handler, echo }),
      );

      await client.deliver(
        { type: 'slow', id: 1 },
        { type: 'echo', id: 2 },
        { type: 'echo', id: 3 },
        { type: 'echo', id: 4 },
      );
      expect(connection.traffic.rateLimited).toBe(1);

      slow.reply({ type: 'slow-done' });
      expect(await client.received(4)).toEqual([
        { type: 'slow-done' },
        { type: 'reply', to: 2 },
        { type: 'reply', to: 3 },
        rateLimited(),
      ]);
      expect(echo).toHaveBeenCalledTimes(2);
    });
  });

  describe('frame rate limit', () => {
    it('drops frames past the budget and tells a non-RPC client at most once a second', async () => {
      const { client, connection } = await open(pipelineOf(), handlersOf({ echo }), { frames: [1, 2] });

      await client.deliver(
        { type: 'echo', id: 1 },
        { type: 'echo', id: 2 },
        { type: 'echo', id: 3 },
        { type: 'echo', id: 4 },
      );
      // 999 ms on: the notice is not due again, and 0.999 of a frame has come back.
      jest.advanceTimersByTime(999);
      await client.deliver({ type: 'echo', id: 5 });
      // A second on: one frame back, and the next drop is told again.
      jest.advanceTimersByTime(1);
      await client.deliver({ type: 'echo', id: 6 }, { type: 'echo', id: 7 });
      // Another second: one more frame back, its reply the last word.
      jest.advanceTimersByTime(1_000);
      client.send({ type: 'echo', id: 8 });

      const last = { type: 'reply', to: 8 };
      expect(await client.until((frames) => isDeepStrictEqual(frames[frames.length - 1], last))).toEqual([
        { type: 'reply', to: 1 },
        { type: 'reply', to: 2 },
        rateLimited(),
        { type: 'reply', to: 6 },
        rateLimited(),
        last,
      ]);
      expect(connection.traffic.rateLimited).toBe(4);
      const identity = { user: undefined, ip: '10.0.0.1' };
      const summary = ['rate_limited', 'ip:10.0.0.1', { gateway: 'chat', ...identity }, identity];
      expect(limited.mock.calls).toEqual([summary, summary, summary, summary]);
    });

    it('answers every dropped frame of an RPC client under its own id, in its place among the replies', async () => {
      const slow = held();
      const { client } = await open(pipelineOf(), handlersOf({ slow: slow.handler, echo }), {
        protocol: { answersEveryRequest: true },
        sub: 'alice',
        frames: [1, 1],
      });

      await client.deliver({ type: 'slow', id: 1 }, { type: 'echo', id: 2 }, { type: 'echo', id: 3 });
      slow.reply({ type: 'slow-done', id: 1 });

      expect(await client.received(3)).toEqual([{ type: 'slow-done', id: 1 }, rateLimited(2), rateLimited(3)]);
      expect(echo).not.toHaveBeenCalled();
      const identity = { user: 'alice', ip: '10.0.0.1' };
      const summary = ['rate_limited', 'user:alice', { gateway: 'chat', ...identity }, identity];
      expect(limited.mock.calls).toEqual([summary, summary]);
    });

    it('stops reading an RPC client whose queued answers reach four times maxBacklog, until they drain', async () => {
      const slow = held();
      const { client, socket } = await open(pipelineOf({ maxBacklog: 2 }), handlersOf({ slow: slow.handler, echo }), {
        protocol: { answersEveryRequest: true },
        frames: [1, 1],
      });
      const dropped = Array.from({ length: 8 }, (_, i) => ({ type: 'echo', id: i + 2 }));

      await client.deliver({ type: 'slow', id: 1 }, ...dropped.slice(0, 7));
      expect(socket.isPaused).toBe(false);
      await client.deliver(dropped[7]);
      expect(socket.isPaused).toBe(true);

      slow.reply({ type: 'slow-done', id: 1 });
      expect(await client.received(9)).toEqual([
        { type: 'slow-done', id: 1 },
        ...dropped.map(({ id }) => rateLimited(id)),
      ]);
      expect(socket.isPaused).toBe(false);
    });

    it('closes (1008) a client with 2,000 answers queued behind a running handler rather than queue more', async () => {
      const slow = held();
      const { client, socket, connection } = await open(
        pipelineOf({ maxBacklog: 1_000 }),
        handlersOf({ slow: slow.handler, echo }),
        { protocol: { answersEveryRequest: true }, frames: [1, 1] },
      );

      await client.deliver(
        { type: 'slow', id: 0 },
        ...Array.from({ length: 2_000 }, (_, i) => ({ type: 'echo', id: i + 1 })),
      );
      expect(socket.readyState).toBe(WebSocket.OPEN);
      expect(connection.closeCode).toBeUndefined();

      const closed = once(client.ws, 'close') as Promise<[number, Buffer]>;
      await client.deliver({ type: 'echo', id: 2_001 });
      expect(connection.closeCode).toBe(1008);
      const [code, reason] = await closed;
      expect([code, reason.toString()]).toEqual([1008, 'Too many pending requests']);
      expect(client.frames).toEqual([]);
      slow.reply({});
    });
  });

  describe('byte budgets', () => {
    /** A frame of exactly `bytes` bytes. */
    const frameOf = (id: string, bytes: number): string => {
      const bare = JSON.stringify({ type: 'echo', id, pad: '' });
      return JSON.stringify({ type: 'echo', id, pad: 'x'.repeat(bytes - bare.length) });
    };

    it('refuses a frame over the unauthenticated limit unread, with Authentication required, until there is a principal', async () => {
      const { client, connection } = await open(pipelineOf(), handlersOf({ echo }), {
        protocol: { unauthenticatedFrameLimit: 64 },
      });

      await client.deliver(frameOf('a', 64), frameOf('b', 65));
      connection.principal = principalOf('alice');
      client.send(frameOf('c', 65));

      expect(await client.received(3)).toEqual([
        { type: 'reply', to: 'a' },
        { type: 'error', kind: 'unauthenticated', message: 'Authentication required' },
        { type: 'reply', to: 'c' },
      ]);
      expect(echo).toHaveBeenCalledTimes(2);
    });

    it('stops reading a connection over its own byte budget until it is back, and drops the frame unread', async () => {
      const { client, socket } = await open(pipelineOf(), handlersOf({ echo }), {
        protocol: { answersEveryRequest: true },
        bytes: [100, 100],
      });

      await client.deliver(frameOf('a', 60), frameOf('b', 60));
      // 40 bytes left: 20 more take 200 ms at 100 a second.
      expect(socket.isPaused).toBe(true);
      jest.advanceTimersByTime(199);
      expect(socket.isPaused).toBe(true);
      jest.advanceTimersByTime(1);
      expect(socket.isPaused).toBe(false);
      client.send(frameOf('c', 60));

      expect(await client.received(3)).toEqual([{ type: 'reply', to: 'a' }, rateLimited(), { type: 'reply', to: 'c' }]);
      expect(echo).toHaveBeenCalledTimes(2);
    });

    it('charges a user’s frames on every connection to one shared budget, and stops reading the one over it', async () => {
      const shared = new SharedByteBudgets({ perUser: 100, perIp: PLENTY, burst: 100 });
      const pipeline = pipelineOf({}, shared);
      const first = await open(pipeline, handlersOf({ echo }), { sub: 'alice' });
      const second = await open(pipeline, handlersOf({ echo }), { sub: 'alice' });
      const other = await open(pipeline, handlersOf({ echo }), { sub: 'bob' });

      await first.client.deliver(frameOf('a', 60));
      await second.client.deliver(frameOf('b', 60));
      other.client.send(frameOf('c', 60));

      expect(await first.client.received(1)).toEqual([{ type: 'reply', to: 'a' }]);
      expect(await second.client.received(1)).toEqual([rateLimited()]);
      expect(await other.client.received(1)).toEqual([{ type: 'reply', to: 'c' }]);
      // Alice's budget is 20 bytes in debt (the refused frame was read, so it is paid for): 200 ms.
      expect([first.socket.isPaused, second.socket.isPaused]).toEqual([false, true]);
      jest.advanceTimersByTime(199);
      expect(second.socket.isPaused).toBe(true);
      jest.advanceTimersByTime(1);
      expect(second.socket.isPaused).toBe(false);
      shared.close();
    });
  });
});
