import { jest } from '@jest/globals';
import type { RealtimeConfig } from '../../config/index.js';
import type { ClusterView } from './cluster-view.service.js';
import { OwnedIds } from './owned-ids.service.js';

/** A cluster without Redis: every decision is this instance's (SPEC.md §6 in memory). */
const localCluster = {
  query: async () => undefined,
  client: undefined,
  timing: { tickMs: 100, leaseMs: 300 },
  onTick: () => undefined,
} as unknown as ClusterView;

const owned = (ttlMs: number | undefined): OwnedIds =>
  new OwnedIds(localCluster, {
    history: ttlMs === undefined ? undefined : { size: 100, ttlMs },
    instanceId: 'here',
  } as RealtimeConfig);

describe('OwnedIds without Redis', () => {
  let ids: OwnedIds;

  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => {
    ids.onModuleDestroy();
    jest.useRealTimers();
  });

  it('gives an id to its first principal, again to it, and to another only when shared', async () => {
    ids = owned(1_000);
    const first = await ids.acquire('k', 'alice');
    expect(first.owner).toBe('alice');
    expect(first.hold).toBeDefined();
    expect((await ids.acquire('k', 'alice')).hold).toBeDefined();
    expect(await ids.acquire('k', 'bob')).toEqual({ owner: 'alice' });
    const shared = await ids.acquire('k', 'bob', true);
    expect(shared.owner).toBe('alice');
    expect(shared.hold).toBeDefined();
  });

  it('keeps the id its owner’s for the history TTL after the last hold, and a send to it for as long after the send', async () => {
    ids = owned(1_000);
    const a = (await ids.acquire('k', 'alice')).hold!;
    const b = (await ids.acquire('k', 'alice')).hold!;
    a.release();
    jest.advanceTimersByTime(5_000);
    expect((await ids.acquire('k', 'bob')).owner).toBe('alice');
    b.release();
    b.release(); // once only
    jest.advanceTimersByTime(600);
    ids.touch('k');
    jest.advanceTimersByTime(900);
    expect((await ids.acquire('k', 'bob')).owner).toBe('alice');
    jest.advanceTimersByTime(100);
    const bob = await ids.acquire('k', 'bob');
    expect(bob.owner).toBe('bob');
    expect(bob.hold).toBeDefined();
  });

  it('with history off, frees the id with its last hold, and forgets it', async () => {
    ids = owned(undefined);
    const hold = (await ids.acquire('k', 'alice')).hold!;
    expect(ids.size).toBe(1);
    hold.release();
    expect(ids.size).toBe(0);
    expect((await ids.acquire('k', 'bob')).owner).toBe('bob');
  });

  it('forgets the ids nobody holds once their time is over', async () => {
    ids = owned(1_000);
    (await ids.acquire('k', 'alice')).hold!.release();
    (await ids.acquire('other', 'bob')).hold!.release();
    expect(await ids.acquire('k', 'bob')).toEqual({ owner: 'alice' });
    expect(ids.size).toBe(2);
    jest.advanceTimersByTime(6_000);
    expect(ids.size).toBe(0);
  });
});
