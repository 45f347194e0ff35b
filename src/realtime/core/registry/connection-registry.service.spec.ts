import { fixtureConnection } from '../transport/connection.fixture.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { TOO_MANY_CONNECTIONS } from '../gateway/realtime-error.js';
import { Connection } from '../transport/connection.js';
import { ConnectionRegistry } from './connection-registry.service.js';

/** A connection of user `sub` (none: no principal). */
const connection = (
  sub: string | undefined,
  options: { gateway?: GatewayName; ip?: string; id?: string } = {},
): Connection => fixtureConnection({ sub, ...options });

describe('ConnectionRegistry', () => {
  let registry: ConnectionRegistry;
  beforeEach(() => (registry = new ConnectionRegistry()));

  it('admits exactly perIp connections from one address, and exactly total per gateway', () => {
    registry.admit(connection('a', { ip: '1.1.1.1' }), { perIp: 2 });
    registry.admit(connection('b', { ip: '1.1.1.1' }), { perIp: 2 });
    expect(registry.admit(connection('c', { ip: '1.1.1.1' }), { perIp: 2 })).toBe(TOO_MANY_CONNECTIONS);
    expect(registry.admit(connection('c', { ip: '2.2.2.2' }), { perIp: 2 })).toBeUndefined();

    const other = new ConnectionRegistry();
    expect(other.admit(connection('x', { gateway: 'checkpoint' }), { total: 1 })).toBeUndefined();
    expect(other.admit(connection('y', { gateway: 'checkpoint' }), { total: 1 })).toBe(TOO_MANY_CONNECTIONS);
    expect(other.admit(connection('y', { gateway: 'chat' }), { total: 1 })).toBeUndefined();
  });

  it('counts the total per gateway: a chat tab does not use a checkpoint place', () => {
    registry.admit(connection('alice', { gateway: 'chat' }), { total: 1 });
    expect(registry.admit(connection('alice', { gateway: 'checkpoint' }), { total: 1 })).toBeUndefined();
    expect(registry.countByGateway('chat')).toBe(1);
    expect(registry.countByGateway('checkpoint')).toBe(1);
  });

  it('reports presence per user, not per tab, on join and leave', () => {
    const [tab1, tab2] = [connection('alice'), connection('alice')];
    registry.admit(tab1, {});
    registry.admit(tab2, {});
    expect(registry.join(tab1, 'channel:1')).toEqual({ presenceChanged: true });
    expect(registry.join(tab2, 'channel:1')).toEqual({ presenceChanged: false });
    expect(registry.join(tab2, 'channel:1')).toEqual({ presenceChanged: false });
    expect(registry.leave(tab1, 'channel:1')).toEqual({ presenceChanged: false });
    expect(registry.leave(tab2, 'channel:1')).toEqual({ presenceChanged: true });
    expect(registry.leave(tab2, 'channel:1')).toEqual({ presenceChanged: false });
    expect(registry.topicCount('chat')).toBe(0);
  });

  it('keeps presence right as a one-user topic gains other users and they leave in any order', () => {
    const [alice1, alice2, bob, carol] = [
      connection('alice'),
      connection('alice'),
      connection('bob'),
      connection('carol'),
    ];
    for (const each of [alice1, alice2, bob, carol]) registry.admit(each, {});
    const joined = (each: Connection) => registry.join(each, 'room').presenceChanged;
    const left = (each: Connection) => registry.leave(each, 'room').presenceChanged;
    expect([joined(alice1), joined(alice2), joined(bob), joined(carol)]).toEqual([true, false, true, true]);
    expect([left(alice1), left(bob), left(alice2)]).toEqual([false, true, true]);
    expect([joined(bob), joined(alice1)]).toEqual([true, true]);
    expect([left(carol), left(bob), left(alice1)]).toEqual([true, true, true]);
    expect(registry.topicCount('chat')).toBe(0);
    // Emptied, the topic starts over as one user's.
    expect([joined(bob), joined(bob), left(bob), joined(alice1), left(alice1)]).toEqual([
      true,
      false,
      true,
      true,
      true,
    ]);
  });

  it('visits each member once however many of the topics it is in', () => {
    const [a, b, c] = [connection('a'), connection('b'), connection('c')];
    for (const each of [a, b, c]) registry.admit(each, {});
    registry.join(a, 'task:1');
    registry.join(a, 'project:1');
    registry.join(b, 'project:1');
    registry.join(c, 'channel:9');
    const visited: Connection[] = [];
    registry.forEachMember('chat', ['task:1', 'project:1', 'user:a'], (member) => visited.push(member));
    expect(visited).toHaveLength(2);
    expect(new Set(visited)).toEqual(new Set([a, b]));
    const otherGateway: Connection[] = [];
    registry.forEachMember('scheduler', ['project:1'], (member) => otherGateway.push(member));
    expect(otherGateway).toEqual([]);
  });

  it('forgets a removed connection everywhere, once, and tells its listeners', () => {
    let changes = 0;
    registry.onChange(() => changes++);
    const alice = connection('alice');
    registry.admit(alice, { perIp: 1 });
    registry.join(alice, 'channel:1');
    registry.join(alice, 'task:2');
    registry.remove(alice);
    registry.remove(alice);
    expect(registry.footprint()).toEqual({ connections: 0, topics: 0, ips: 0 });
    expect(alice.topics.size).toBe(0);
    expect(registry.get(alice.id)).toBeUndefined();
    expect(changes).toBe(6); // admit, two joins, two leaves by the removal, the removal
    expect(registry.admit(connection('alice'), { perIp: 1 })).toBeUndefined();
  });

  it('does not join a connection it never admitted', () => {
    const stranger = connection('x');
    expect(registry.join(stranger, 'channel:1')).toEqual({ presenceChanged: false });
    expect(registry.topicCount('chat')).toBe(0);
  });

  it('lists in admission order, filtered by gateway and user', () => {
    const first = connection('u1');
    const second = connection('u2', { gateway: 'scheduler' });
    const third = connection('u1');
    for (const each of [first, second, third]) registry.admit(each, {});
    expect(registry.list()).toEqual([first, second, third]);
    expect(registry.list({ gateway: 'chat' })).toEqual([first, third]);
    expect(registry.list({ user: 'u1', gateway: 'chat' })).toEqual([first, third]);
    expect(registry.list({ user: 'nobody' })).toEqual([]);
  });
});

describe('ConnectionRegistry counters', () => {
  it('releases the counters a connection was admitted under, even if it authenticated since', () => {
    const registry = new ConnectionRegistry();
    const anonymous = connection(undefined, { gateway: 'checkpoint' });
    registry.admit(anonymous, { perIp: 1 });
    anonymous.principal = { sub: 'late', userId: 'late', username: 'late', roles: [] };
    registry.remove(anonymous);
    expect(registry.footprint()).toEqual({ connections: 0, topics: 0, ips: 0 });
  });
});

describe('ConnectionRegistry ids taken again (notify client ids)', () => {
  it('hands the newest connection out by id, remembers the displaced one, and cleans both up', () => {
    const registry = new ConnectionRegistry();
    const make = (): Connection => connection('u', { gateway: 'notify', id: 'client-1' });
    const [first, second] = [make(), make()];
    registry.admit(first, {});
    registry.admit(second, {});
    expect(registry.get('client-1')).toBe(second);
    expect(registry.displacedBy(second)).toBe(first);
    expect(registry.size).toBe(2);
    registry.remove(first);
    expect(registry.get('client-1')).toBe(second);
    expect(registry.displacedBy(second)).toBeUndefined();
    registry.remove(second);
    expect(registry.get('client-1')).toBeUndefined();
    expect(registry.footprint()).toEqual({ connections: 0, topics: 0, ips: 0 });
  });

  it('keeps a chain of displacements whole when the middle one leaves (A, then B refused, then C): C displaced A', () => {
    const registry = new ConnectionRegistry();
    const make = (sub: string): Connection => connection(sub, { gateway: 'notify', id: 'desk' });
    const [a, b, c] = [make('owner'), make('intruder'), make('owner')];
    registry.admit(a, {});
    registry.admit(b, {});
    registry.admit(c, {});
    expect(registry.displacedBy(c)).toBe(b);
    registry.remove(b);
    expect(registry.displacedBy(c)).toBe(a);
    expect(registry.get('desk')).toBe(c);
    registry.remove(c);
    // C leaving gives the id back to A, still open here.
    expect(registry.get('desk')).toBe(a);
    registry.remove(a);
    expect(registry.footprint()).toEqual({ connections: 0, topics: 0, ips: 0 });
  });
});
