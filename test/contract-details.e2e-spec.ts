import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * Contract details found from outside (issue 22): which error an RPC answers first, and that a
 * request the server can read but refuses is answered under its own id.
 */
describe('contract details: errors answer the request they refuse', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it.each(['list_checkpoints', 'checkpoint', 'restore', 'delete_checkpoint', 'compact', 'subscribe', 'unsubscribe'])(
    'checkpoint %s with no parameters: Missing session_id parameter, before any other parameter',
    async (method) => {
      const client = await TestClient.open(t.wsUrl('/ws/checkpoints', hsToken({ sub: 'details' })));
      for (const params of [undefined, {}, { checkpoint_id: 5, keep: 'x', message: 7 }]) {
        const id = randomUUID();
        client.send(params === undefined ? { id, method } : { id, method, params }, { invalid: true });
        expect(await client.next((f) => f.id === id)).toEqual({
          id,
          success: false,
          error: 'Missing session_id parameter',
        });
      }
      client.close();
    },
  );

  it('checkpoint: a request that parses but is refused (a forbidden key, a wrong type) is answered under its own id; a frame that is not JSON under unknown', async () => {
    const client = await TestClient.open(t.wsUrl('/ws/checkpoints', hsToken({ sub: 'details' })));
    client.send('{"id":"hostile-1","method":"metrics","params":{"__proto__":{"admin":true}}}', { invalid: true });
    expect(await client.next((f) => f.id === 'hostile-1')).toEqual({
      id: 'hostile-1',
      success: false,
      error: 'Invalid JSON: Forbidden key: __proto__',
    });
    client.send(
      { id: 'typed-1', method: 'compact', params: { session_id: randomUUID(), keep: 'all' } },
      { invalid: true },
    );
    expect(await client.next((f) => f.id === 'typed-1')).toEqual({
      id: 'typed-1',
      success: false,
      error: expect.stringMatching(/^keep must be/),
    });
    client.send('{"id":"broken-1","method":', { invalid: true });
    expect(await client.next()).toEqual({
      id: 'unknown',
      success: false,
      error: expect.stringMatching(/^Invalid JSON: /),
    });
    client.close();
  });

  it('scheduler: a frame that parses but is refused is answered under its own id; one without an id gets a fresh one', async () => {
    const client = await TestClient.open(t.wsUrl('/ws/user', hsToken({ sub: 'details' })));
    await client.next((f) => f.type === 'system_status');
    client.send('{"type":"ping","id":"req-7","constructor":{"prototype":1}}', { invalid: true });
    expect(await client.next((f) => f.type === 'error')).toMatchObject({
      id: 'req-7',
      error: 'Invalid message format',
    });
    client.send('{"type":"ping","constructor":1}', { invalid: true });
    const fresh = await client.next((f) => f.type === 'error');
    expect(fresh.error).toBe('Invalid message format');
    expect(fresh.id).toMatch(/^error-/);
    client.send({ type: 'nonsense', id: 'req-8' }, { invalid: true });
    expect(await client.next((f) => f.type === 'error')).toMatchObject({ id: 'req-8', error: 'Unknown message type' });
    client.close();
  });
});
