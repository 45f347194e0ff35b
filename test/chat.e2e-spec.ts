import { anyPosition, inStream } from './support/positions.js';
import { TestClient, sleep } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { hsToken } from './support/tokens.js';

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('chat gateway (SPEC §3)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ chat: { maxContentLength: 50 } });
  });
  afterAll(() => t.close());

  it('welcomes a connection with its user and connection id', async () => {
    const client = await TestClient.open(t.wsUrl('/api/v1/ws/connect', hsToken({ sub: 12345, username: 'alice' })));
    const welcome = await client.next();
    expect(welcome).toEqual({
      type: 'connected',
      data: {
        message: 'Connected successfully',
        user_id: 12345,
        username: 'alice',
        connection_id: expect.any(String),
        stream: 'user:12345',
        ...anyPosition(),
      },
      timestamp: expect.stringMatching(ISO_MS),
    });
    client.close();
  });

  it('falls back to preferred_username, then sub, for the username', async () => {
    const a = await TestClient.open(t.wsUrl('/api/v1/ws/connect', hsToken({ sub: '7', preferred_username: 'pat' })));
    expect((await a.next()).data.username).toBe('pat');
    const b = await TestClient.open(t.wsUrl('/api/v1/ws/connect', hsToken({ sub: '8' })));
    expect((await b.next()).data.username).toBe('8');
    a.close();
    b.close();
  });

  it('joins a room with an ack, and answers ping with pong', async () => {
    const client = await t.chat({ sub: '1', username: 'u1' });
    client.send({ type: 'join_room', room: 'channel:456' });
    expect(await client.next()).toEqual({
      type: 'room_joined',
      room: 'channel:456',
      data: { room: 'channel:456', ...anyPosition() },
      timestamp: expect.stringMatching(ISO_MS),
    });
    client.send({ type: 'ping' });
    expect(await client.next()).toEqual({ type: 'pong', timestamp: expect.stringMatching(ISO_MS) });
    client.close();
  });

  it('broadcasts send_message to every member, the sender too, in the event envelope', async () => {
    const alice = await t.chat({ sub: '10', username: 'alice' });
    const bob = await t.chat({ sub: '11', username: 'bob' });
    const outsider = await t.chat({ sub: '12', username: 'carol' });
    for (const c of [alice, bob]) {
      c.send({ type: 'join_room', room: 'project:9' });
      await c.nextOfType('room_joined');
    }
    alice.send({ type: 'send_message', room: 'project:9', data: { content: 'Hello' } });
    for (const c of [alice, bob]) {
      expect(await c.nextOfType('message')).toEqual({
        type: 'message',
        room: 'project:9',
        data: { content: 'Hello', user_id: '10', username: 'alice' },
        sender: 'alice',
        timestamp: expect.stringMatching(ISO_MS),
        ...inStream('project:9'),
      });
    }
    await sleep(100);
    expect(outsider.ofType('message')).toHaveLength(0);
    [alice, bob, outsider].forEach((c) => c.close());
  });

  it('handles join then send without waiting for the ack (frames are handled in order)', async () => {
    const client = await t.chat({ sub: '13' });
    client.send({ type: 'join_room', room: 'task:1' });
    client.send({ type: 'send_message', room: 'task:1', data: { content: 'fast' } });
    expect((await client.next()).type).toBe('room_joined');
    expect((await client.next()).data.content).toBe('fast');
    client.close();
  });

  it('sends user_joined / user_left to the others, once per user, not per tab', async () => {
    const watcher = await t.chat({ sub: '20', username: 'watcher' });
    watcher.send({ type: 'join_room', room: 'channel:77' });
    await watcher.nextOfType('room_joined');

    const tab1 = await t.chat({ sub: '21', username: 'dana' });
    const tab2 = await t.chat({ sub: '21', username: 'dana' });
    tab1.send({ type: 'join_room', room: 'channel:77' });
    await tab1.nextOfType('room_joined');
    const joined = await watcher.nextOfType('user_joined');
    expect(joined).toEqual({
      type: 'user_joined',
      room: 'channel:77',
      data: { user_id: '21', username: 'dana' },
      sender: 'dana',
      timestamp: expect.stringMatching(ISO_MS),
      ...inStream('channel:77'),
    });
    tab2.send({ type: 'join_room', room: 'channel:77' });
    await tab2.nextOfType('room_joined');
    expect(tab1.ofType('user_joined')).toHaveLength(0);

    tab1.send({ type: 'leave_room', room: 'channel:77' });
    expect(await tab1.nextOfType('room_left')).toMatchObject({ type: 'room_left', room: 'channel:77' });
    await sleep(100);
    expect(watcher.ofType('user_joined')).toHaveLength(1);
    expect(watcher.ofType('user_left')).toHaveLength(0);

    tab2.close(); // the last tab leaves by disconnecting
    expect(await watcher.nextOfType('user_left')).toMatchObject({ room: 'channel:77', data: { user_id: '21' } });
    expect(watcher.ofType('user_left')).toHaveLength(1);
    [watcher, tab1].forEach((c) => c.close());
  });

  it('puts every connection in its own user room, which clients cannot join or leave', async () => {
    const client = await t.chat({ sub: '30' });
    for (const type of ['join_room', 'leave_room']) {
      client.send({ type, room: 'user:30' }, { invalid: true });
      expect(await client.next()).toMatchObject({ type: 'error', data: { code: 4403 } });
    }
    const response = await t.http('POST', '/ws/publish', {
      token: hsToken({ sub: 'ops', roles: ['admin'] }),
      body: { room: 'user:30', type: 'notification.new', data: { text: 'hi' } },
    });
    expect(response.status).toBe(200);
    expect(await client.nextOfType('notification.new')).toMatchObject({ room: 'user:30', data: { text: 'hi' } });
    client.close();
  });

  describe('errors keep the connection open', () => {
    let client: TestClient;
    beforeAll(async () => {
      client = await t.chat({ sub: '40' });
      client.send({ type: 'join_room', room: 'channel:1' });
      await client.nextOfType('room_joined');
    });
    afterAll(() => client.close());

    const cases: Array<[string, unknown, number, RegExp]> = [
      ['not JSON', '{oops', 4400, /Invalid JSON/],
      ['not an object', '[1,2]', 4400, /object/],
      ['a string', '"join_room"', 4400, /object/],
      ['no type', { room: 'channel:1' }, 4400, /type/i],
      ['a non-string type', { type: 5 }, 4400, /type/i],
      ['an unknown type', { type: 'dance' }, 4400, /Unknown message type/],
      ['join without room', { type: 'join_room' }, 4400, /Missing room/],
      ['join with a non-string room', { type: 'join_room', room: 5 }, 4400, /room/],
      ['send without room', { type: 'send_message', data: { content: 'x' } }, 4400, /Missing room/],
      ['send without data', { type: 'send_message', room: 'channel:1' }, 4400, /content/],
      ['send with empty content', { type: 'send_message', room: 'channel:1', data: { content: '' } }, 4400, /content/],
      [
        'send with non-string content',
        { type: 'send_message', room: 'channel:1', data: { content: 3 } },
        4400,
        /content/,
      ],
      [
        'send with content over the limit',
        { type: 'send_message', room: 'channel:1', data: { content: 'x'.repeat(51) } },
        4400,
        /content/,
      ],
      ['a bad room prefix', { type: 'join_room', room: 'team:1' }, 4403, /room/i],
      ['a non-numeric room id', { type: 'join_room', room: 'channel:abc' }, 4403, /room/i],
      [
        'a send to a room not joined',
        { type: 'send_message', room: 'channel:2', data: { content: 'x' } },
        4403,
        /member/,
      ],
      ['a __proto__ key', '{"type":"ping","__proto__":{"admin":true}}', 4400, /__proto__/],
      ['a constructor key', { type: 'ping', data: { constructor: { prototype: 1 } } }, 4400, /constructor/],
      ['a binary frame', Buffer.from([1, 2, 3]), 4400, /Binary/],
    ];

    it.each(cases)('%s → error frame', async (_name, frame, code, message) => {
      client.send(frame as never, { invalid: true });
      const error = await client.next();
      expect(error).toEqual({
        type: 'error',
        data: { error: expect.stringMatching(message), code },
        timestamp: expect.stringMatching(ISO_MS),
      });
      client.send({ type: 'ping' });
      expect((await client.next()).type).toBe('pong');
    });

    it('accepts content of exactly the limit', async () => {
      client.send({ type: 'send_message', room: 'channel:1', data: { content: 'x'.repeat(50) } });
      expect((await client.nextOfType('message')).data.content).toHaveLength(50);
    });
  });
});
