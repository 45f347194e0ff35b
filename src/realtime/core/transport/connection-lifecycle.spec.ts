import { jest } from '@jest/globals';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { UserSlot, type UserSlots } from '../cluster/user-slots.service.js';
import { standardRefusal, type ConnectionLimits, type GatewayProtocol } from '../gateway/gateway-definition.js';
import { AUTH_REQUIRED, RealtimeError } from '../gateway/realtime-error.js';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { RefusalLog } from '../logging/refusal-log.js';
import { ConnectionRegistry } from '../registry/connection-registry.service.js';
import { Connection } from './connection.js';
import { ConnectionLifecycle } from './connection-lifecycle.js';
import { fixtureConnection, principalOf } from './connection.fixture.js';
import { GatewayServer } from './gateway-server.js';
import { GatewayTraffic } from './gateway-traffic.js';
import { PendingConnections } from './pending-connections.js';
import { RealtimeSocket } from './realtime-socket.js';
import type { RegisteredGateway } from './registered-gateway.js';
import { TokenBucket } from './token-bucket.js';

const T0 = 1_700_000_000_000;
const CLOCK_TOLERANCE_SEC = 5;
/** A token expiry (seconds since the epoch) `seconds` after the start of each test. */
const expIn = (seconds: number): number => T0 / 1000 + seconds;

const protocol: GatewayProtocol = {
  gateway: 'chat',
  messageKey: () => undefined,
  errorFrame: (error) => ({ type: 'error', kind: error.kind, message: error.message }),
  refusal: standardRefusal((error) => ({ type: 'error', kind: error.kind, message: error.message })),
};

interface Admitted {
  client: WebSocket;
  /** What the server sent the client, parsed. */
  frames: unknown[];
  socket: RealtimeSocket;
  connection: Connection;
}

/** The code and reason `socket` closes with. */
async function closeOf(socket: WebSocket): Promise<[number, string]> {
  const [code, reason] = (await once(socket, 'close')) as [number, Buffer];
  return [code, reason.toString()];
}

describe('ConnectionLifecycle', () => {
  let server: WebSocketServer;
  let log: LifecycleLog;
  let refusals: RefusalLog;
  let written: jest.Spied<LifecycleLog['info']>;
  let failures: jest.Spied<LifecycleLog['error']>;
  let refused: jest.Spied<RefusalLog['refused']>;
  let registry: ConnectionRegistry;
  let pending: PendingConnections;
  let traffic: GatewayTraffic;
  let lifecycle: ConnectionLifecycle;
  let clients: WebSocket[];

  beforeEach(async () => {
    jest.useFakeTimers({ now: T0, doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask'] });
    log = new LifecycleLog();
    refusals = new RefusalLog(log);
    written = jest.spyOn(log, 'info').mockReturnValue();
    failures = jest.spyOn(log, 'error').mockReturnValue();
    refused = jest.spyOn(refusals, 'refused').mockReturnValue();
    registry = new ConnectionRegistry();
    pending = new PendingConnections(
      { perIp: 100, total: 100, headerTimeoutMs: 10_000 },
      () => false,
      () => undefined,
    );
    traffic = new GatewayTraffic();
    lifecycle = new ConnectionLifecycle(
      { clockToleranceSec: CLOCK_TOLERANCE_SEC, expiryNoticeSec: 30 },
      registry,
      pending,
      log,
      refusals,
    );
    clients = [];
    server = new WebSocketServer({ port: 0, WebSocket: RealtimeSocket });
    await once(server, 'listening');
  });

  afterEach(async () => {
    for (const client of clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
    refusals.close();
    jest.useRealTimers();
  });

  /**
   * A real client, admitted as the transport admits one: its TCP socket pending since it was
   * accepted, the connection in the registry, then followed by the lifecycle.
   */
  async function admit({
    sub,
    exp,
    limits = {},
    slot,
  }: { sub?: string; exp?: number; limits?: ConnectionLimits; slot?: UserSlot } = {}): Promise<Admitted> {
    const accepted = once(server, 'connection') as Promise<[RealtimeSocket, IncomingMessage]>;
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    clients.push(client);
    const frames: unknown[] = [];
    client.on('message', (data: RawData) => frames.push(JSON.parse((data as Buffer).toString())));
    const opened = once(client, 'open');
    const [socket, request] = await accepted;
    await opened;
    const connection = new Connection({
      socket,
      ip: '10.0.0.1',
      userAgent: 'spec',
      protocol,
      params: {},
      principal: sub === undefined ? undefined : { ...principalOf(sub), exp },
      rateLimiter: new TokenBucket(100, 100),
      byteBudget: new TokenBucket(1 << 20, 1 << 20),
      limits: { maxQueueSize: 100, maxQueueBytes: 1 << 20 },
      traffic,
    });
    socket.connection = connection;
    pending.accepted(request.socket);
    pending.headersReceived(request.socket);
    expect(registry.admit(connection, limits)).toBeUndefined();
    const gateway: RegisteredGateway = {
      server: new GatewayServer(protocol),
      definition: { ...protocol, paths: ['/ws'], limits: () => limits },
      limits,
    };
    lifecycle.track(connection, gateway, slot, request.socket);
    return { client, frames, socket, connection };
  }

  /** Closes from the client's side, and waits until the server has seen the close. */
  async function closeFromClient({ client, socket }: Admitted, code = 1000): Promise<void> {
    const closed = once(socket, 'close');
    client.close(code);
    await closed;
  }

  describe('authentication', () => {
    it('settles the pending socket of a connection with a principal at once; one without stays pending', async () => {
      await admit({ sub: 'alice' });
      expect(pending.size).toBe(0);
      await admit();
      expect(pending.size).toBe(1);
    });

    it('refuses a connection still without a principal 10 s after it was let in, in the gateway’s words', async () => {
      const anonymous = await admit();
      const closed = closeOf(anonymous.client);

      jest.advanceTimersByTime(9_999);
      expect(refused.mock.calls).toEqual([]);
      expect(anonymous.connection.refused).toBe(false);
      jest.advanceTimersByTime(1);

      expect(refused.mock.calls).toEqual([['auth_failed', '10.0.0.1', { gateway: 'chat', reason: 'deadline' }]]);
      expect(await closed).toEqual([4401, 'Authentication required']);
      expect(anonymous.frames).toEqual([
        { type: 'error', kind: 'unauthenticated', message: 'Authentication required' },
      ]);
    });

    it('an authentication within the deadline cancels it and settles the pending socket', async () => {
      const anonymous = await admit();
      jest.advanceTimersByTime(9_000);

      expect(lifecycle.authenticated(anonymous.connection, principalOf('bob'))).toBeUndefined();
      expect(anonymous.connection.principal).toEqual(principalOf('bob'));
      expect(pending.size).toBe(0);
      jest.advanceTimersByTime(60_000);
      expect(refused.mock.calls).toEqual([]);
      expect(anonymous.connection.refused).toBe(false);
      expect(anonymous.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('returns the refusal of a late authentication over the gateway’s total, then closes with its code', async () => {
      registry.admit(fixtureConnection({ sub: 'bob' }), { total: 1 });
      const anonymous = await admit({ limits: { total: 1 } });
      const closed = closeOf(anonymous.client);

      const refusal = lifecycle.authenticated(anonymous.connection, principalOf('alice'));

      expect(refusal).toBeInstanceOf(RealtimeError);
      expect([refusal?.kind, refusal?.message]).toEqual(['capacity', 'Too many connections']);
      expect(anonymous.connection.refused).toBe(true);
      expect(anonymous.connection.principal).toBeUndefined();
      // Closed on the next turn, once the caller has answered.
      expect(anonymous.connection.closeCode).toBeUndefined();
      await new Promise((resolve) => setImmediate(resolve));
      expect(anonymous.connection.closeCode).toBe(4429);
      expect(await closed).toEqual([4429, 'Too many connections']);
      // The caller answers with the refusal: the lifecycle sends nothing of its own.
      expect(anonymous.frames).toEqual([]);
    });

    it('answers Authentication required for a connection it does not follow', () => {
      expect(lifecycle.authenticated(fixtureConnection(), principalOf('alice'))).toBe(AUTH_REQUIRED);
    });
  });

  describe('token expiry', () => {
    it('closes with 4401 Token expired once exp plus the clock tolerance has passed', async () => {
      const alice = await admit({ sub: 'alice', exp: expIn(60) });
      const closed = closeOf(alice.client);

      jest.advanceTimersByTime(64_999);
      expect(alice.connection.closeCode).toBeUndefined();
      jest.advanceTimersByTime(1);

      expect(alice.connection.closeCode).toBe(4401);
      expect(await closed).toEqual([4401, 'Token expired']);
    });

    it('a later authentication replaces the expiry with the new token’s', async () => {
      const alice = await admit({ sub: 'alice', exp: expIn(60) });
      expect(lifecycle.authenticated(alice.connection, { ...principalOf('alice'), exp: expIn(120) })).toBeUndefined();

      jest.advanceTimersByTime(125_000 - 1);
      expect(alice.connection.closeCode).toBeUndefined();
      jest.advanceTimersByTime(1);
      expect(alice.connection.closeCode).toBe(4401);
    });

    it('clear() forgets every scheduled expiry', async () => {
      const alice = await admit({ sub: 'alice', exp: expIn(60) });
      lifecycle.clear();
      jest.advanceTimersByTime(120_000);
      expect(alice.connection.closeCode).toBeUndefined();
      expect(alice.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('connect and disconnect', () => {
    it('writes the connect line once the gateway has opened the connection; none, and no disconnect line, for one it refused meanwhile', async () => {
      const opened = await admit({ sub: 'alice' });
      const turnedAway = await admit({ sub: 'bob' });
      let open: () => void = () => undefined;
      const opening = new Promise<void>((resolve) => (open = resolve));
      opened.connection.holdFramesUntil(opening);
      turnedAway.connection.holdFramesUntil(opening);

      lifecycle.announce(opened.connection, '/ws');
      lifecycle.announce(turnedAway.connection, '/ws');
      expect(written.mock.calls).toEqual([]);
      turnedAway.connection.refused = true;
      open();
      await new Promise((resolve) => setImmediate(resolve));

      const alice = { gateway: 'chat', id: opened.connection.id, user: 'alice', ip: '10.0.0.1' };
      expect(written.mock.calls).toEqual([['connect', { ...alice, url: '/ws' }]]);
      await closeFromClient(opened);
      await closeFromClient(turnedAway);
      expect(written.mock.calls).toEqual([
        ['connect', { ...alice, url: '/ws' }],
        ['disconnect', { ...alice, code: 1000, duration_ms: 0 }],
      ]);
      expect(traffic.closeCodes).toEqual(new Map([[1000, 2]]));
      expect(registry.size).toBe(0);
    });

    it('at the close runs every disconnect handler in order, a failing one logged, then gives back the registry place and the user slot', async () => {
      const givenBack: string[] = [];
      const slots = { giveBack: (key: string) => givenBack.push(key) } as unknown as UserSlots;
      const alice = await admit({ sub: 'alice', slot: new UserSlot(slots, 'chat|alice') });
      lifecycle.announce(alice.connection, '/api/v1/ws/connect');
      const ran: Array<[string, boolean]> = [];
      const registered = (): boolean => registry.get(alice.connection.id) === alice.connection;
      lifecycle.onClose(alice.connection, () => ran.push(['first', registered()]));
      lifecycle.onClose(alice.connection, () => {
        throw new Error('room gone');
      });
      lifecycle.onClose(alice.connection, () => ran.push(['third', registered()]));

      // Last heard from at 1 s; closed at 1.5 s: the duration is counted from the connect.
      jest.advanceTimersByTime(1_000);
      alice.connection.recordInbound(Date.now());
      jest.advanceTimersByTime(500);
      await closeFromClient(alice, 4100);

      expect(ran).toEqual([
        ['first', true],
        ['third', true],
      ]);
      expect(failures.mock.calls).toEqual([['disconnect_handler_failed', { gateway: 'chat', reason: 'room gone' }]]);
      expect(registry.size).toBe(0);
      expect(givenBack).toEqual(['chat|alice']);
      expect(traffic.closeCodes).toEqual(new Map([[4100, 1]]));
      const fields = { gateway: 'chat', id: alice.connection.id, user: 'alice', ip: '10.0.0.1' };
      expect(written.mock.calls).toEqual([
        ['connect', { ...fields, url: '/api/v1/ws/connect' }],
        ['disconnect', { ...fields, code: 4100, duration_ms: 1_500 }],
      ]);
    });

    it('counts and logs the code the server closed with, though the client never finished the close handshake', async () => {
      const alice = await admit({ sub: 'alice' });
      lifecycle.announce(alice.connection, '/ws');
      alice.client.pause();
      const closed = once(alice.socket, 'close') as Promise<[number, Buffer]>;

      alice.connection.close(4000, 'Disconnected by administrator');
      jest.advanceTimersByTime(2_000);

      const [wireCode] = await closed;
      expect(wireCode).toBe(1006);
      expect(traffic.closeCodes).toEqual(new Map([[4000, 1]]));
      expect(written.mock.calls[1]).toEqual([
        'disconnect',
        { gateway: 'chat', id: alice.connection.id, user: 'alice', ip: '10.0.0.1', code: 4000, duration_ms: 2_000 },
      ]);
    });

    it('forgets a closed connection: neither its expiry nor its authentication deadline fires afterwards', async () => {
      const alice = await admit({ sub: 'alice', exp: expIn(60) });
      const anonymous = await admit();
      await closeFromClient(alice);
      await closeFromClient(anonymous);
      const close = jest.spyOn(alice.connection, 'close');
      const refuse = jest.spyOn(anonymous.connection, 'refuse');

      jest.advanceTimersByTime(120_000);

      expect(close).not.toHaveBeenCalled();
      expect(refuse).not.toHaveBeenCalled();
      expect(refused.mock.calls).toEqual([]);
    });

    it('records the round trip of a protocol ping when its pong comes back', async () => {
      const alice = await admit({ sub: 'alice' });
      alice.connection.pingSent(Date.now());
      jest.advanceTimersByTime(30);
      const pong = once(alice.socket, 'pong');

      alice.socket.ping();
      await pong;

      expect(alice.connection.latencyMs).toBe(30);
      expect(alice.connection.lastSeenAt).toBe(T0 + 30);
    });
  });
});
