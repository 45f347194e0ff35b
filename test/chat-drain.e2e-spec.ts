import { startTestApp, type TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * A drain on one instance without Redis (SPEC §9, issue 26): there is no other instance to move to,
 * so a user the drain closed has left, and a member closed in a later wave hears `user_left` for it
 * (in a cluster the presence is handed over instead: test/cluster-races.e2e-spec.ts).
 */
describe('a drain without Redis announces the users it closed to those still connected', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Two connections: two waves, one at the start of the drain, one at its end.
    t = await startTestApp({ shutdownDrainSec: 1 });
  });

  afterAll(async () => {
    await t?.close().catch(() => undefined);
  });

  it('the member closed second heard user_left for the one closed first, before its own 1012', async () => {
    const room = 'channel:5';
    const clients = new Map<string, TestClient>();
    for (const user of ['drain-a', 'drain-b']) {
      const client = await t.chat({ sub: user, username: user });
      client.send({ type: 'join_room', room });
      await client.next((f) => f.type === 'room_joined' && f.room === room);
      clients.set(user, client);
    }
    await clients.get('drain-a')!.next((f) => f.type === 'user_joined' && f.data.user_id === 'drain-b');

    const order: string[] = [];
    const closed = [...clients].map(([user, client]) =>
      client.closed.then((close) => {
        order.push(user);
        return close;
      }),
    );
    const stopping = t.close();
    for (const close of await Promise.all(closed)) expect(close.code).toBe(1012);
    await stopping;

    const [first, second] = order;
    const heard = (user: string, about: string): number =>
      clients.get(user)!.frames.filter((f) => f.type === 'user_left' && f.data?.user_id === about).length;
    expect(heard(second, first)).toBe(1);
    expect(heard(first, second)).toBe(0);
  });
});
