import { fixtureConnection } from '../transport/connection.fixture.js';
import { jest } from '@jest/globals';
import { MemoryEventBus } from '../../bus/memory-event-bus.js';
import { StreamStyles } from '../../bus/stream-styles.js';
import { resolveRealtimeConfig } from '../../realtime.config.js';
import { Connection } from '../transport/connection.js';
import { PreparedFrame } from '../transport/prepared-frame.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import { Fanout } from './fanout.service.js';

/** What a connection was sent: the `n` of each event, in order. */
type Received = number[];

describe('Fanout', () => {
  let registry: ConnectionRegistry;
  let bus: MemoryEventBus;
  let fanout: Fanout;

  beforeEach(() => {
    const config = resolveRealtimeConfig({ instanceId: 'a', historySize: 100, historyTtlSec: 60 });
    registry = new ConnectionRegistry();
    const styles = new StreamStyles();
    bus = new MemoryEventBus(styles, config.history);
    fanout = new Fanout(registry, bus, config, styles);
    fanout.onModuleInit();
  });
  afterEach(() => jest.restoreAllMocks());

  /** An open chat connection of user `sub`, admitted here, whose writes are recorded. */
  function member(sub: string): { connection: Connection; received: Received } {
    const connection = fixtureConnection({ sub });
    registry.admit(connection, {});
    jest.spyOn(connection, 'isOpen', 'get').mockReturnValue(true);
    const received: Received = [];
    const record = (json: string): boolean => (received.push((JSON.parse(json) as { n: number }).n), true);
    jest.spyOn(connection, 'sendJson').mockImplementation(record);
    jest.spyOn(connection, 'sendPrepared').mockImplementation((frame) => record(frame.payload.toString()));
    return { connection, received };
  }

  const publish = (n: number, except?: string): void => void fanout.toTopics('chat', ['room'], { n }, except);

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
