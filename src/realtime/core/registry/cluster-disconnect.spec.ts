import { fixtureConnection } from '../transport/connection.fixture.js';
import { jest } from '@jest/globals';
import type { BusMessage } from '../../bus/event-bus.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { Connection } from '../transport/connection.js';
import { ClusterDisconnect, type DisconnectMessage } from './cluster-disconnect.js';
import { ConnectionRegistry } from './connection-registry.service.js';

/** A connection of `gateway` with id `id`, connected at `at` (epoch ms). */
function connectionAt(id: string, at: number, gateway: GatewayName = 'notify'): Connection {
  jest.setSystemTime(at);
  return fixtureConnection({ id, gateway });
}

describe('ClusterDisconnect', () => {
  let registry: ConnectionRegistry;
  let published: DisconnectMessage[];
  const bus = {
    publish: (message: BusMessage): void => {
      if (message.kind === 'disconnect') published.push(message);
    },
  };
  const on = (instanceId: string): ClusterDisconnect => new ClusterDisconnect(registry, bus, { instanceId });

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    registry = new ConnectionRegistry();
    published = [];
  });
  afterEach(() => jest.useRealTimers());

  /** A connection admitted here, whose close is recorded instead of done. */
  function local(id: string, at: number, gateway?: GatewayName): jest.Mock<(code: number, reason: string) => void> {
    const connection = connectionAt(id, at, gateway);
    registry.admit(connection, {});
    const close = jest.fn<(code: number, reason: string) => void>();
    jest.spyOn(connection, 'close').mockImplementation(close);
    return close;
  }

  it('publishes a claim of the connection’s id, gateway, age and instance', () => {
    const connection = connectionAt('client-1', 1_000_500);
    on('b').claimId(connection, 4409, 'Replaced');
    expect(published).toEqual([
      {
        kind: 'disconnect',
        connectionId: 'client-1',
        code: 4409,
        reason: 'Replaced',
        gateway: 'notify',
        claim: { at: 1_000_500, instance: 'b' },
      },
    ]);
  });

  it('closes the local connection an administrator disconnects, of whichever gateway', () => {
    const close = local('c1', 1_000_000, 'chat');
    const disconnects = on('a');
    disconnects.disconnect('c1', 4000, 'Disconnected by administrator');
    expect(disconnects.deliver(published[0])).toBe(1);
    expect(close).toHaveBeenCalledWith(4000, 'Disconnected by administrator');
    expect(disconnects.deliver({ ...published[0], connectionId: 'nobody' })).toBe(0);
  });

  it('a claim closes an older holder of the id, never a newer one or one of another gateway', () => {
    const close = local('id', 1_000_000);
    const disconnects = on('a');
    const claim = (at: number, gateway: GatewayName = 'notify'): DisconnectMessage => ({
      kind: 'disconnect',
      connectionId: 'id',
      code: 4409,
      reason: 'Replaced',
      gateway,
      claim: { at, instance: 'b' },
    });

    expect(disconnects.deliver(claim(999_999))).toBe(0);
    expect(disconnects.deliver(claim(1_000_001, 'chat'))).toBe(0);
    expect(close).not.toHaveBeenCalled();
    expect(disconnects.deliver(claim(1_000_001))).toBe(1);
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('two claims at the same millisecond: the one from the greater instance id wins', () => {
    const close = local('id', 1_000_000);
    const tie = (instance: string): DisconnectMessage => ({
      kind: 'disconnect',
      connectionId: 'id',
      code: 4409,
      reason: 'Replaced',
      gateway: 'notify',
      claim: { at: 1_000_000, instance },
    });

    expect(on('b').deliver(tie('a'))).toBe(0);
    expect(close).not.toHaveBeenCalled();
    expect(on('a').deliver(tie('b'))).toBe(1);
  });
});
