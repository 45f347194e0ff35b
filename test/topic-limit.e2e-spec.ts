import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/** SPEC §10.1 "Memory": a connection holds at most WS_MAX_TOPICS_PER_CONNECTION rooms or subscriptions. */
describe('rooms and subscriptions per connection', () => {
  let t: TestApp;

  beforeAll(async () => {
    // The default cap (128), and a rate limit that lets 130 joins through at once.
    t = await startTestApp({ rateLimitPerSec: 1000 });
  });

  afterAll(() => t.close());

  it('chat: the 128th room is joined, the 129th refused with 4429 Too many rooms (user room aside)', async () => {
    const chat = await t.chat({ sub: 'rooms' });
    for (let i = 1; i <= 128; i++) chat.send({ type: 'join_room', room: `channel:${i}` });
    for (let i = 1; i <= 128; i++) expect((await chat.nextOfType('room_joined')).room).toBe(`channel:${i}`);
    chat.send({ type: 'join_room', room: 'channel:129' });
    expect(await chat.nextOfType('error')).toEqual({
      type: 'error',
      data: { error: 'Too many rooms', code: 4429 },
      timestamp: expect.any(String),
    });
    // The connection goes on: joining a room it has is fine, and leaving one makes room for another.
    chat.send({ type: 'join_room', room: 'channel:5' });
    expect((await chat.nextOfType('room_joined')).room).toBe('channel:5');
    chat.send({ type: 'leave_room', room: 'channel:5' });
    await chat.nextOfType('room_left');
    chat.send({ type: 'join_room', room: 'channel:129' });
    expect((await chat.nextOfType('room_joined')).room).toBe('channel:129');
    const { body } = await t.http('GET', `/ws/clients/${chat.frames[0].data.connection_id}`, {
      token: ADMIN_TOKEN,
    });
    expect(body.rooms).toHaveLength(129);
    expect(body.rooms).toContain('user:rooms');
    expect(body.rooms_total).toBe(129);
    // Lists show the first 32 rooms of each client, and how many there are.
    const { body: list } = await t.http('GET', '/ws/clients?user=rooms', { token: ADMIN_TOKEN });
    expect(list.clients[0].rooms).toHaveLength(32);
    expect(list.clients[0].rooms_total).toBe(129);
    chat.close();
  });

  it('scheduler: the path subscription counts; the 129th subscription is refused, the connection goes on', async () => {
    const client = await TestClient.open(t.wsUrl('/ws/projects/p0', hsToken({ sub: 'subs' })));
    await client.nextOfType('system_status');
    const subscribe = (id: string) =>
      client.send({ type: 'system_status', data: { action: 'subscribe', resourceType: 'experiment', resourceId: id } });
    for (let i = 1; i <= 127; i++) subscribe(`e${i}`);
    for (let i = 1; i <= 127; i++) expect((await client.nextOfType('system_status')).data.resourceId).toBe(`e${i}`);
    subscribe('e128');
    expect(await client.nextOfType('error')).toEqual({
      type: 'error',
      id: expect.any(String),
      timestamp: expect.any(String),
      error: 'Too many subscriptions',
    });
    client.send({ type: 'ping', id: 'ping-after' });
    expect((await client.nextOfType('pong')).id).toBe('pong-after');
    client.close();
  });
});
