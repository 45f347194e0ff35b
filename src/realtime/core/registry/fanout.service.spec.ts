import { jest } from '@jest/globals';
import WebSocket from 'ws';
import { MemoryEventBus } from '../../bus/memory-event-bus.js';
import { resolveRealtimeConfig } from '../../realtime.config.js';
import type { Principal } from '../auth/principal.js';
import type { GatewayProtocol } from '../gateway/gateway-definition.js';
import { Connection } from '../transport/connection.js';
import { GatewayTraffic } from '../transport/gateway-traffic.js';
import { PreparedFrame } from '../transport/prepared-frame.js';
import { TokenBucket } from '../transport/token-bucket.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import { Fanout } from './fanout.service.js';

/** `ws`'s server-side constructor (no address: a socket the server will adopt), absent from its types. */
const UnconnectedSocket = WebSocket as unknown as new (
  address: null,
  protocols: undefined,
  options: object,
) => WebSocket;

const CHAT: GatewayProtocol = {
  gateway: 'chat',
  messageKey: () => undefined,
  errorFrame: () => ({}),
  refusal: (error) => ({ frame: {}, code: 4429, reason: error.message }),
};

const principal = (sub: string): Principal => ({ sub, userId: sub, username: sub, roles: [] });

/** What a connection was sent: the `n` of each event, in order. */
type Received = number[];

describe('Fanout', () => {
  let registry: ConnectionRegistry;
  let bus: MemoryEventBus;
  let fanout: Fanout;

  beforeEach(() => {
    const config = resolveRealtimeConfig({ instanceId: 'a', historySize: 100, historyTtlSec: 60 });
    registry = new ConnectionRegistry();
    bus = new MemoryEventBus(config.history);
    fanout = new Fanout(registry, bus, config);
    fanout.onModuleInit();
  });
  afterEach(() => jest.restoreAllMocks());

  /** An open chat connection of user `sub`, admitted here, whose writes are recorded. */
  function member(sub: string): { connection: Connection; received: Received } {
    const connection = new Connection({
      socket: new UnconnectedSocket(null, undefined, {}),
      ip: '10.0.0.1',
      userAgent: 'spec',
      protocol: CHAT,
      params: {},
      principal: principal(sub),
      rateLimiter: new TokenBucket(20, 40),
      byteBudget: new TokenBucket(1_048_576, 1_048_576),
      limits: { maxQueueSize: 10, maxQueueBytes: 1024 },
      traffic: new GatewayTraffic(),
    });
    registry.admit(connection, {});
    jest.spyOn(connection, 'isOpen', 'get').mockReturnValue(true);
    const received: Received = [];
    const record = (json: string): boolean => (received.push((JSON.parse(json) as { n: number }).n), true);
    jest.spyOn(connection, 'sendJson').mockImplementation(record);
    jest.spyOn(connection, 'sendPrepared').mockImplementation((frame) => record(frame.payload.toString()));
    return { connection, received };
  }

  const publish = (n: number, except?: string): void => fanout.toTopics('chat', ['room'], { n }, except);

  it('frames each event once for all its local recipients, leaving out the user it excepts', async () => {
    const [alice, bob, bob2] = [member('alice'), member('bob'), member('bob')];
    for (const { connection } of [alice, bob, bob2]) (await fanout.join(connection, 'room')).release();
    const framing = jest.spyOn(PreparedFrame, 'fromJson');

    publish(1);
    publish(2, 'bob');

    expect(framing).toHaveBeenCalledTimes(2);
    expect([alice.received, bob.received, bob2.received]).toEqual([[1, 2], [1], [1]]);
  });

  it('a join from a position gets the missed events, then those held meanwhile, then the live ones', async () => {
    for (const n of [1, 2, 3]) publish(n);
    const { position } = await bus.resume('chat', 'room');
    const { connection, received } = member('carol');

    const joined = await fanout.join(connection, 'room', { offset: 1, epoch: position.epoch });
    publish(4);
    expect(received).toEqual([]);
    joined.release();
    publish(5);

    expect(joined).toMatchObject({ recovered: true, position: { offset: 3 } });
    expect(received).toEqual([2, 3, 4, 5]);
  });
});
