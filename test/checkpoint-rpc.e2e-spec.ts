import { TestClient, eventually } from './support/test-client.js';
import {
  BAD_SESSION,
  MISSING_SESSION,
  NO_CHECKPOINT,
  NO_SESSION,
  SESSION_METHODS,
  UUID,
  call,
  checkpoint,
  createSession,
  failure,
  isResponse,
  list,
  listed,
  metrics,
  openCheckpoint,
  pipeline,
  randomUUID,
  rpc,
  someError,
  subscribe,
  unsubscribe,
} from './support/checkpoint-client.js';
import { checkpointMethodsApp } from './support/checkpoint-fixtures.js';

/**
 * SPEC §5 (seed 003), the checkpoint RPC itself (memory store): the order requests are answered in,
 * the errors of every method, and the metrics method. The session methods:
 * test/checkpoint-sessions.e2e-spec.ts; events and the host API: test/checkpoint-events.e2e-spec.ts.
 */

describe('checkpoint gateway: methods (SPEC §5)', () => {
  const { t, client } = checkpointMethodsApp();

  describe('request order', () => {
    it('answers 50 pipelined checkpoint requests in the order sent, with sequences 1..50', async () => {
      const c = await client();
      const session = await createSession(c);
      const start = c.frames.length;
      const { ids, responses } = await pipeline(
        c,
        Array.from({ length: 50 }, (_, i) => ({
          method: 'checkpoint',
          params: { session_id: session, message: `p${i + 1}` },
        })),
      );
      // the responses, in arrival order, carry the request ids in the order sent
      expect(
        c.frames
          .slice(start)
          .filter(isResponse)
          .map((f) => f.id),
      ).toEqual(ids);
      responses.forEach((r, i) =>
        expect(r).toEqual({ id: ids[i], success: true, result: expect.stringMatching(UUID) }),
      );
      const checkpointIds = responses.map((r) => r.result as string);
      expect(new Set(checkpointIds).size).toBe(50);
      const entries = await list(c, session);
      expect(entries.map((e) => e.id)).toEqual(checkpointIds);
      expect(entries.map((e) => e.sequence)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(entries.map((e) => e.message)).toEqual(Array.from({ length: 50 }, (_, i) => `p${i + 1}`));
    });

    it('handles a mixed pipeline in order: each request sees the effect of the ones before it', async () => {
      const c = await client();
      const session = await createSession(c);
      const start = c.frames.length;
      const { ids, responses } = await pipeline(c, [
        { method: 'checkpoint', params: { session_id: session, message: 'x1' } },
        { method: 'checkpoint', params: { session_id: session, message: 'x2' } },
        { method: 'list_checkpoints', params: { session_id: session } },
        { method: 'checkpoint', params: { session_id: session, message: 'x3' } },
        { method: 'compact', params: { session_id: session, keep: 1 } },
        { method: 'list_checkpoints', params: { session_id: session } },
        { method: 'no_such_method', invalid: true },
        { method: 'checkpoint', params: { session_id: session, message: 'x4' } },
        { method: 'list_checkpoints', params: { session_id: session } },
      ]);
      expect(
        c.frames
          .slice(start)
          .filter(isResponse)
          .map((f) => f.id),
      ).toEqual(ids);
      const [x1, x2, , x3] = responses.map((r) => r.result as string);
      expect(responses[2].result).toEqual([listed(x1, session, 'x1', 1), listed(x2, session, 'x2', 2)]);
      expect(responses[4].result).toEqual({ remaining: 1 });
      expect(responses[5].result).toEqual([listed(x3, session, 'x3', 3)]);
      expect(responses[6]).toEqual(failure(ids[6], 'Unknown method: no_such_method'));
      expect(responses[8].result).toEqual([
        listed(x3, session, 'x3', 3),
        listed(responses[7].result as string, session, 'x4', 4),
      ]);
    });

    it('gives 200 concurrent checkpoints from two connections the sequences 1..200 (memory store)', async () => {
      const a = await client('conc-a');
      const b = await client('conc-b');
      const session = await createSession(a);
      const batch = (tag: string) =>
        Array.from({ length: 100 }, (_, i) => ({
          method: 'checkpoint',
          params: { session_id: session, message: `${tag}${i}` },
        }));
      const [ra, rb] = await Promise.all([pipeline(a, batch('a')), pipeline(b, batch('b'))]);
      const all = [...ra.responses, ...rb.responses];
      all.forEach((r) => expect(r).toMatchObject({ success: true, result: expect.stringMatching(UUID) }));
      const ids = all.map((r) => r.result as string);
      expect(new Set(ids).size).toBe(200);
      const entries = await list(a, session);
      expect(entries).toHaveLength(200);
      expect(entries.map((e) => e.sequence)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(new Set(entries.map((e) => e.id))).toEqual(new Set(ids));
      // each connection's requests were handled in order
      const seqOf = new Map(entries.map((e) => [e.id as string, e.sequence as number]));
      for (const r of [ra, rb]) {
        const seqs = r.responses.map((x) => seqOf.get(x.result as string)!);
        expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      }
    });
  });

  describe('errors', () => {
    let c: TestClient;
    let session: string;
    let otherSession: string;
    let otherCheckpoint: string;

    beforeAll(async () => {
      c = await openCheckpoint(t, { sub: 'errors' });
      session = await createSession(c, 'errors');
      await checkpoint(c, session, 'keep me');
      otherSession = await createSession(c, 'other');
      otherCheckpoint = await checkpoint(c, otherSession, 'elsewhere');
    });
    afterAll(() => c.close());

    /** The other params a method needs, valid, so that only session_id is wrong. */
    const rest = (method: string): Record<string, unknown> =>
      method === 'restore' || method === 'delete_checkpoint'
        ? { checkpoint_id: randomUUID() }
        : method === 'compact'
          ? { keep: 1 }
          : {};

    it('answers an unknown method with "Unknown method: M" and its id', async () => {
      for (const method of ['dance', 'Checkpoint', 'checkpoint ', 'toString', 'constructor', 'hasOwnProperty', '']) {
        const response = await rpc(c, method, {}, { invalid: true });
        expect(response).toEqual(failure(response.id, `Unknown method: ${method}`));
      }
    });

    it.each(SESSION_METHODS)('%s: Missing session_id parameter when absent or not a string', async (method) => {
      for (const value of [undefined, 5, null, true, {}, [randomUUID()]]) {
        const params = value === undefined ? rest(method) : { ...rest(method), session_id: value };
        const response = await rpc(c, method, params, { invalid: true });
        expect(response).toEqual(failure(response.id, MISSING_SESSION));
      }
      // with every param omitted, only single-param methods have one defined error
      if (Object.keys(rest(method)).length === 0) {
        const response = await rpc(c, method, undefined, { invalid: true });
        expect(response).toEqual(failure(response.id, MISSING_SESSION));
      }
    });

    it.each(SESSION_METHODS)('%s: Invalid session_id format when not a UUID', async (method) => {
      for (const value of [
        '',
        'abc',
        'not-a-uuid',
        '123',
        'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
        `${session}x`,
        '../x',
      ]) {
        const response = await rpc(c, method, { ...rest(method), session_id: value }, { invalid: true });
        expect(response).toEqual(failure(response.id, BAD_SESSION));
      }
    });

    it.each(SESSION_METHODS.filter((m) => m !== 'unsubscribe'))(
      '%s: Session not found for an unknown UUID',
      async (method) => {
        const response = await rpc(c, method, { ...rest(method), session_id: randomUUID() });
        expect(response).toEqual(failure(response.id, NO_SESSION));
      },
    );

    it.each(['restore', 'delete_checkpoint'])(
      '%s: Checkpoint not found for an unknown, non-UUID or other session’s checkpoint id',
      async (method) => {
        for (const checkpointId of [randomUUID(), 'abc', '', otherCheckpoint]) {
          const response = await rpc(c, method, { session_id: session, checkpoint_id: checkpointId });
          expect(response).toEqual(failure(response.id, NO_CHECKPOINT));
        }
        // the other session's checkpoint is still there
        expect((await list(c, otherSession)).map((e) => e.id)).toEqual([otherCheckpoint]);
      },
    );

    it.each(['restore', 'delete_checkpoint'])('%s: fails for a missing or non-string checkpoint_id', async (method) => {
      for (const value of [undefined, 5, null, {}, [otherCheckpoint]]) {
        const params = value === undefined ? { session_id: session } : { session_id: session, checkpoint_id: value };
        const response = await rpc(c, method, params, { invalid: true });
        expect(response).toEqual(failure(response.id, someError()));
      }
      expect((await list(c, session)).map((e) => e.message)).toEqual(['keep me']);
    });

    it('never answers an error with a result, and keeps the connection open', async () => {
      const response = await rpc(c, 'restore', { session_id: session, checkpoint_id: randomUUID() });
      expect(Object.keys(response).sort()).toEqual(['error', 'id', 'success']);
      expect(c.socket.readyState).toBe(c.socket.OPEN);
      expect(await list(c, session)).toHaveLength(1);
    });
  });

  describe('metrics', () => {
    /** Waits until the connections of earlier tests are gone (the probe stays open through the test). */
    beforeEach(async () => {
      const probe = await client('probe');
      await eventually(async () => (await metrics(probe)).connections === 1, 5000, 'earlier connections released');
    });

    it('has exactly the five counters', async () => {
      const c = await client();
      const response = await rpc(c, 'metrics', {});
      expect(response).toEqual({
        id: response.id,
        success: true,
        result: {
          sessions: expect.any(Number),
          checkpoints: expect.any(Number),
          subscriptions: expect.any(Number),
          connections: expect.any(Number),
          requests_served: expect.any(Number),
        },
      });
    });

    it('counts sessions and checkpoints in the store', async () => {
      const c = await client();
      const m0 = await metrics(c);
      const session = await createSession(c);
      const first = await checkpoint(c, session, 'one');
      await checkpoint(c, session, 'two');
      const m1 = await metrics(c);
      expect(m1.sessions - m0.sessions).toBe(1);
      expect(m1.checkpoints - m0.checkpoints).toBe(2);
      await call(c, 'delete_checkpoint', { session_id: session, checkpoint_id: first });
      expect((await metrics(c)).checkpoints - m0.checkpoints).toBe(1);
      await checkpoint(c, session, 'three');
      await checkpoint(c, session, 'four');
      expect((await metrics(c)).checkpoints - m0.checkpoints).toBe(3);
      await call(c, 'compact', { session_id: session, keep: 1 });
      const m2 = await metrics(c);
      expect(m2.checkpoints - m0.checkpoints).toBe(1);
      expect(m2.sessions - m0.sessions).toBe(1);
    });

    it('counts this instance’s subscriptions and connections', async () => {
      const c = await client();
      const session = await createSession(c);
      const other = await createSession(c);
      const m0 = await metrics(c);
      await subscribe(c, session);
      expect((await metrics(c)).subscriptions - m0.subscriptions).toBe(1);
      const second = await client('second');
      expect((await metrics(c)).connections - m0.connections).toBe(1);
      await subscribe(second, session);
      await subscribe(second, other);
      expect((await metrics(c)).subscriptions - m0.subscriptions).toBe(3);
      await unsubscribe(c, session);
      expect((await metrics(c)).subscriptions - m0.subscriptions).toBe(2);
      second.close();
      await second.waitClose();
      await eventually(async () => {
        const m = await metrics(c);
        return m.subscriptions === m0.subscriptions && m.connections === m0.connections;
      }, 5000);
    });

    it('counts requests served by this instance', async () => {
      const c = await client();
      const d = await client('d');
      const m0 = await metrics(c);
      const session = await createSession(c);
      await checkpoint(c, session);
      await list(d, session);
      await metrics(d);
      const m1 = await metrics(c);
      // four requests between the two readings, plus the first reading itself
      expect(m1.requests_served - m0.requests_served).toBe(5);
      const m2 = await metrics(c);
      expect(m2.requests_served - m1.requests_served).toBe(1);
    });
  });
});
