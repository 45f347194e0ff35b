import type { Subscription } from 'rxjs';
import { CheckpointService, type Principal } from '../src/realtime/index.js';
import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import {
  BAD_SESSION,
  MISSING_SESSION,
  NO_CHECKPOINT,
  NO_SESSION,
  SESSION_METHODS,
  UUID,
  anyIso,
  awaitCreated,
  call,
  checkpoint,
  closeAll,
  compactedFrame,
  createSession,
  eventFrame,
  events,
  failure,
  isResponse,
  list,
  listed,
  metrics,
  openCheckpoint,
  pipeline,
  randomUUID,
  reply,
  request,
  rpc,
  someError,
  subscribe,
  unsubscribe,
  waitEvents,
} from './support/checkpoint-client.js';

/** SPEC §5 (seed 003): the checkpoint RPC methods, their errors, events, metrics and the host API (memory store). */

/**
 * Sessions have owners (SPEC §5, test/checkpoint-owners.e2e-spec.ts): the connections of these tests
 * are tabs of one principal, each with its own label as username, unless a test says otherwise.
 */
const OWNER = 'cp-user';
const OWNER_PRINCIPAL: Principal = { sub: OWNER, userId: OWNER, username: OWNER, roles: [] };

describe('checkpoint gateway: methods (SPEC §5)', () => {
  let t: TestApp;
  const open: TestClient[] = [];

  const client = async (label = OWNER): Promise<TestClient> => {
    const c = await openCheckpoint(t, { sub: OWNER, username: label });
    open.push(c);
    return c;
  };
  /** A connection of another principal. */
  const stranger = async (sub: string): Promise<TestClient> => {
    const c = await openCheckpoint(t, { sub });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    // pipelined tests send more than the default burst of 40
    t = await startTestApp({ rateLimitPerSec: 10_000 });
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
  });
  afterAll(() => t.close());

  describe('create_session', () => {
    it('answers with the exact success envelope and a new UUID session id, named or not', async () => {
      const c = await client();
      const frame = request('create_session', { name: 'my session' });
      const response = await reply(c, frame);
      expect(response).toEqual({ id: frame.id, success: true, result: expect.stringMatching(UUID) });
      const unnamed = await rpc(c, 'create_session', {});
      expect(unnamed).toEqual({ id: unnamed.id, success: true, result: expect.stringMatching(UUID) });
      expect(unnamed.result).not.toBe(response.result);
      expect(await list(c, response.result as string)).toEqual([]);
      expect(await list(c, unnamed.result as string)).toEqual([]);
    });

    it('treats omitted params as {}: create_session', async () => {
      const c = await client();
      const created = await reply(c, { id: 'no-params-1', method: 'create_session' });
      expect(created).toEqual({ id: 'no-params-1', success: true, result: expect.stringMatching(UUID) });
    });

    it('treats omitted params as {}: metrics', async () => {
      const c = await client();
      const m = await reply(c, { id: 'no-params-2', method: 'metrics' });
      expect(m).toEqual({ id: 'no-params-2', success: true, result: expect.any(Object) });
    });

    it.each([
      ['a number', 5],
      ['an object', { first: 'x' }],
      ['an array', ['x']],
      ['a boolean', true],
    ])('refuses a name that is %s, and creates nothing', async (_what, name) => {
      const c = await client();
      const before = await metrics(c);
      const response = await rpc(c, 'create_session', { name });
      expect(response).toEqual(failure(response.id, someError()));
      expect((await metrics(c)).sessions).toBe(before.sessions);
    });
  });

  describe('checkpoint, list_checkpoints, restore', () => {
    it('lists checkpoints oldest first with sequence 1, 2, … and no state; defaults message and state', async () => {
      const c = await client();
      const session = await createSession(c, 'listing');
      const first = await checkpoint(c, session, 'first', { step: 1 });
      const second = await checkpoint(c, session);
      const third = await checkpoint(c, session, 'héllo 🏓 "quoted"', [1, 2, 3]);
      expect(new Set([first, second, third]).size).toBe(3);
      const entries = await list(c, session);
      expect(entries).toEqual([
        listed(first, session, 'first', 1),
        listed(second, session, 'Checkpoint', 2),
        listed(third, session, 'héllo 🏓 "quoted"', 3),
      ]);
      const times = entries.map((e) => Date.parse(e.created_at as string));
      times.forEach((time) => expect(Number.isNaN(time)).toBe(false));
      expect([...times].sort((x, y) => x - y)).toEqual(times);
    });

    it('restores a checkpoint with its state, exactly as stored (any JSON, default null)', async () => {
      const c = await client();
      const session = await createSession(c);
      const states: unknown[] = [
        { a: 1, b: [1, 'x', null, { c: true }], d: { e: { f: 'é🏓' } } },
        [1, 2, 3],
        'text',
        42,
        0,
        -1.5,
        false,
        true,
        '',
        null,
        {},
        [],
      ];
      const ids: string[] = [];
      for (const state of states) ids.push(await checkpoint(c, session, `state ${JSON.stringify(state)}`, state));
      const defaulted = await checkpoint(c, session, 'no state');
      const entries = await list(c, session);
      for (const [i, state] of states.entries()) {
        const restored = await call(c, 'restore', { session_id: session, checkpoint_id: ids[i] });
        expect(restored).toEqual({ ...entries[i], state });
        expect(restored).toEqual({
          id: ids[i],
          session_id: session,
          message: `state ${JSON.stringify(state)}`,
          sequence: i + 1,
          created_at: anyIso(),
          state,
        });
      }
      expect(await call(c, 'restore', { session_id: session, checkpoint_id: defaulted })).toEqual({
        id: defaulted,
        session_id: session,
        message: 'no state',
        sequence: states.length + 1,
        created_at: entries[states.length].created_at,
        state: null,
      });
    });

    it('numbers each session on its own, starting at 1', async () => {
      const c = await client();
      const a = await createSession(c, 'a');
      const b = await createSession(c, 'b');
      const a1 = await checkpoint(c, a, 'a1');
      const b1 = await checkpoint(c, b, 'b1');
      const a2 = await checkpoint(c, a, 'a2');
      const b2 = await checkpoint(c, b, 'b2');
      const b3 = await checkpoint(c, b, 'b3');
      expect(await list(c, a)).toEqual([listed(a1, a, 'a1', 1), listed(a2, a, 'a2', 2)]);
      expect(await list(c, b)).toEqual([listed(b1, b, 'b1', 1), listed(b2, b, 'b2', 2), listed(b3, b, 'b3', 3)]);
    });

    it('shares a session between the connections of its owner, and with no other principal', async () => {
      const tab1 = await client('tab1');
      const tab2 = await client('tab2');
      const session = await createSession(tab1);
      const id = await checkpoint(tab2, session, 'by tab2', { by: 'tab2' });
      expect(await list(tab1, session)).toEqual([listed(id, session, 'by tab2', 1)]);
      expect((await call(tab1, 'restore', { session_id: session, checkpoint_id: id })).state).toEqual({ by: 'tab2' });
      const bob = await stranger('bob');
      const refused = await rpc(bob, 'list_checkpoints', { session_id: session });
      expect(refused).toEqual(failure(refused.id, NO_SESSION));
    });

    it.each([
      ['a number', 5],
      ['an object', { text: 'x' }],
      ['an array', ['x']],
      ['a boolean', false],
    ])('refuses a message that is %s, and stores nothing', async (_what, message) => {
      const c = await client();
      const session = await createSession(c);
      const response = await rpc(c, 'checkpoint', { session_id: session, message });
      expect(response).toEqual(failure(response.id, someError()));
      expect(await list(c, session)).toEqual([]);
      expect(await checkpoint(c, session)).toMatch(UUID);
      expect((await list(c, session)).map((e) => e.sequence)).toEqual([1]);
    });
  });

  describe('delete_checkpoint', () => {
    it('deletes one checkpoint: gone from the list, not restorable, a second delete is Checkpoint not found', async () => {
      const c = await client();
      const session = await createSession(c);
      const ids = [await checkpoint(c, session, 'one'), await checkpoint(c, session, 'two')];
      ids.push(await checkpoint(c, session, 'three'));
      const deleted = await rpc(c, 'delete_checkpoint', { session_id: session, checkpoint_id: ids[1] });
      expect(deleted).toEqual({ id: deleted.id, success: true, result: { deleted: true } });
      expect(await list(c, session)).toEqual([listed(ids[0], session, 'one', 1), listed(ids[2], session, 'three', 3)]);
      const restore = await rpc(c, 'restore', { session_id: session, checkpoint_id: ids[1] });
      expect(restore).toEqual(failure(restore.id, NO_CHECKPOINT));
      const again = await rpc(c, 'delete_checkpoint', { session_id: session, checkpoint_id: ids[1] });
      expect(again).toEqual(failure(again.id, NO_CHECKPOINT));
      expect((await list(c, session)).map((e) => e.id)).toEqual([ids[0], ids[2]]);
    });

    it('keeps counting sequences after the newest checkpoint is deleted (grows by 1 per checkpoint)', async () => {
      const c = await client();
      const session = await createSession(c);
      await checkpoint(c, session, 's1');
      await checkpoint(c, session, 's2');
      const newest = await checkpoint(c, session, 's3');
      await call(c, 'delete_checkpoint', { session_id: session, checkpoint_id: newest });
      const next = await checkpoint(c, session, 's4');
      expect((await list(c, session)).map((e) => [e.message, e.sequence])).toEqual([
        ['s1', 1],
        ['s2', 2],
        ['s4', 4],
      ]);
      expect((await call(c, 'restore', { session_id: session, checkpoint_id: next })).sequence).toBe(4);
    });
  });

  describe('compact', () => {
    it('keeps the newest `keep` checkpoints by sequence and deletes the rest', async () => {
      const c = await client();
      const session = await createSession(c);
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) ids.push(await checkpoint(c, session, `m${i}`, { i }));
      const entries = await list(c, session);
      const response = await rpc(c, 'compact', { session_id: session, keep: 2 });
      expect(response).toEqual({ id: response.id, success: true, result: { remaining: 2 } });
      expect(await list(c, session)).toEqual(entries.slice(3));
      for (const gone of ids.slice(0, 3)) {
        const restore = await rpc(c, 'restore', { session_id: session, checkpoint_id: gone });
        expect(restore).toEqual(failure(restore.id, NO_CHECKPOINT));
      }
      expect((await call(c, 'restore', { session_id: session, checkpoint_id: ids[4] })).state).toEqual({ i: 5 });
    });

    it('keep 0 empties the session, keep beyond the count keeps everything', async () => {
      const c = await client();
      const session = await createSession(c);
      for (let i = 1; i <= 3; i++) await checkpoint(c, session, `m${i}`);
      const entries = await list(c, session);
      expect(await call(c, 'compact', { session_id: session, keep: 10 })).toEqual({ remaining: 3 });
      expect(await list(c, session)).toEqual(entries);
      expect(await call(c, 'compact', { session_id: session, keep: 3 })).toEqual({ remaining: 3 });
      expect(await list(c, session)).toEqual(entries);
      expect(await call(c, 'compact', { session_id: session, keep: 0 })).toEqual({ remaining: 0 });
      expect(await list(c, session)).toEqual([]);
      // the session itself stays, and its sequence goes on
      const next = await checkpoint(c, session, 'after');
      expect(await list(c, session)).toEqual([listed(next, session, 'after', 4)]);
    });

    it('counts by sequence after a delete in the middle', async () => {
      const c = await client();
      const session = await createSession(c);
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) ids.push(await checkpoint(c, session, `m${i}`));
      await call(c, 'delete_checkpoint', { session_id: session, checkpoint_id: ids[4] });
      expect(await call(c, 'compact', { session_id: session, keep: 2 })).toEqual({ remaining: 2 });
      expect((await list(c, session)).map((e) => [e.id, e.sequence])).toEqual([
        [ids[2], 3],
        [ids[3], 4],
      ]);
    });

    it.each([
      ['negative', -1],
      ['a fraction', 1.5],
      ['a string', '2'],
      ['null', null],
      ['a boolean', true],
      ['an array', [2]],
      ['an object', { n: 2 }],
      ['missing', undefined],
    ])('refuses keep that is %s, and deletes nothing', async (_what, keep) => {
      const c = await client();
      const session = await createSession(c);
      for (let i = 1; i <= 3; i++) await checkpoint(c, session, `m${i}`);
      const entries = await list(c, session);
      const params = keep === undefined ? { session_id: session } : { session_id: session, keep };
      const response = await rpc(c, 'compact', params);
      expect(response).toEqual(failure(response.id, someError()));
      expect(await list(c, session)).toEqual(entries);
    });
  });

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
        { method: 'no_such_method' },
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
        const response = await rpc(c, method, {});
        expect(response).toEqual(failure(response.id, `Unknown method: ${method}`));
      }
    });

    it.each(SESSION_METHODS)('%s: Missing session_id parameter when absent or not a string', async (method) => {
      for (const value of [undefined, 5, null, true, {}, [randomUUID()]]) {
        const params = value === undefined ? rest(method) : { ...rest(method), session_id: value };
        const response = await rpc(c, method, params);
        expect(response).toEqual(failure(response.id, MISSING_SESSION));
      }
      // with every param omitted, only single-param methods have one defined error
      if (Object.keys(rest(method)).length === 0) {
        const response = await rpc(c, method);
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
        const response = await rpc(c, method, { ...rest(method), session_id: value });
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
        const response = await rpc(c, method, params);
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

  describe('events', () => {
    it('pushes created, restored, deleted and compacted events, in order, to a subscriber', async () => {
      const actor = await client('actor');
      const watcher = await client('watcher');
      const session = await createSession(actor);
      await subscribe(watcher, session);
      const c1 = await checkpoint(actor, session, 'one');
      const c2 = await checkpoint(actor, session, 'two');
      const c3 = await checkpoint(actor, session, 'three');
      await call(actor, 'restore', { session_id: session, checkpoint_id: c1 });
      await call(actor, 'delete_checkpoint', { session_id: session, checkpoint_id: c2 });
      await call(actor, 'compact', { session_id: session, keep: 1 });
      await waitEvents(watcher, (f) => f.event_type === 'checkpoints_compacted');
      const marker = await checkpoint(actor, session, 'marker');
      await awaitCreated([watcher], marker);
      expect(events(watcher)).toEqual([
        eventFrame('checkpoint_created', c1, session),
        eventFrame('checkpoint_created', c2, session),
        eventFrame('checkpoint_created', c3, session),
        eventFrame('checkpoint_restored', c1, session),
        eventFrame('checkpoint_deleted', c2, session),
        compactedFrame(session, 1),
        eventFrame('checkpoint_created', marker, session),
      ]);
      // events carry no id and are not responses: the seed's fields and their position
      expect(events(watcher).every((f) => Object.keys(f).sort().join() === 'data,epoch,event_type,offset,stream')).toBe(
        true,
      );
      // the watcher got nothing else besides its own subscribe response
      expect(watcher.frames.filter((f) => !('event_type' in f))).toHaveLength(1);
      // the actor, not subscribed, got none
      expect(events(actor)).toEqual([]);
    });

    it('sends none to a connection subscribed to another session, and none after unsubscribe', async () => {
      const actor = await client('actor');
      const watcher = await client('watcher');
      const elsewhere = await client('elsewhere');
      const session = await createSession(actor, 'watched');
      const other = await createSession(actor, 'other');
      await subscribe(watcher, session);
      await subscribe(watcher, other);
      await subscribe(elsewhere, other);

      const before = await checkpoint(actor, session, 'before');
      await waitEvents(watcher, (f) => f.data.checkpoint_id === before);
      await unsubscribe(watcher, session);
      const after = await checkpoint(actor, session, 'after');
      await call(actor, 'restore', { session_id: session, checkpoint_id: after });
      await call(actor, 'delete_checkpoint', { session_id: session, checkpoint_id: before });
      await call(actor, 'compact', { session_id: session, keep: 0 });
      // quiet point: an event the watcher and `elsewhere` do receive, caused after all of the above
      const marker = await checkpoint(actor, other, 'marker');
      await awaitCreated([watcher, elsewhere], marker);

      expect(events(watcher, session)).toEqual([eventFrame('checkpoint_created', before, session)]);
      expect(events(watcher, other)).toEqual([eventFrame('checkpoint_created', marker, other)]);
      expect(events(elsewhere)).toEqual([eventFrame('checkpoint_created', marker, other)]);
      expect(events(actor)).toEqual([]);
    });

    it('delivers each event once, to every subscriber, the acting connection included', async () => {
      const actor = await client('actor');
      const w1 = await client('w1');
      const w2 = await client('w2');
      const session = await createSession(actor);
      for (const c of [actor, w1, w2]) await subscribe(c, session);
      // subscribing twice does not double the events
      await subscribe(w1, session);
      const ids = [await checkpoint(actor, session, 'a'), await checkpoint(w2, session, 'b')];
      await call(w1, 'restore', { session_id: session, checkpoint_id: ids[0] });
      const marker = await checkpoint(actor, session, 'marker');
      await awaitCreated([actor, w1, w2], marker);
      for (const c of [actor, w1, w2]) {
        expect(events(c)).toEqual([
          eventFrame('checkpoint_created', ids[0], session),
          eventFrame('checkpoint_created', ids[1], session),
          eventFrame('checkpoint_restored', ids[0], session),
          eventFrame('checkpoint_created', marker, session),
        ]);
      }
    });

    it('sends no event for a failed operation', async () => {
      const actor = await client('actor');
      const watcher = await client('watcher');
      const session = await createSession(actor);
      await subscribe(watcher, session);
      await rpc(actor, 'restore', { session_id: session, checkpoint_id: randomUUID() });
      await rpc(actor, 'delete_checkpoint', { session_id: session, checkpoint_id: randomUUID() });
      await rpc(actor, 'compact', { session_id: session, keep: -1 });
      await rpc(actor, 'checkpoint', { session_id: session, message: 5 });
      const marker = await checkpoint(actor, session, 'marker');
      await awaitCreated([watcher], marker);
      expect(events(watcher)).toEqual([eventFrame('checkpoint_created', marker, session)]);
    });

    it('refuses to subscribe to an unknown session with Session not found', async () => {
      const c = await client();
      const before = await metrics(c);
      const response = await rpc(c, 'subscribe', { session_id: randomUUID() });
      expect(response).toEqual(failure(response.id, NO_SESSION));
      expect((await metrics(c)).subscriptions).toBe(before.subscriptions);
    });

    it('keeps delivering to the others when a subscriber disconnects', async () => {
      const actor = await client('actor');
      const leaving = await client('leaving');
      const staying = await client('staying');
      const session = await createSession(actor);
      await subscribe(leaving, session);
      await subscribe(staying, session);
      leaving.terminate();
      await leaving.waitClose();
      const id = await checkpoint(actor, session, 'after the disconnect');
      await awaitCreated([staying], id);
      expect(events(staying)).toEqual([eventFrame('checkpoint_created', id, session)]);
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

  describe('host API (CheckpointService)', () => {
    let service: CheckpointService;
    const subscriptions: Subscription[] = [];

    beforeAll(() => {
      service = t.app.get(CheckpointService);
    });
    afterEach(() => subscriptions.splice(0).forEach((s) => s.unsubscribe()));

    const collect = (sessionId: string): Frame[] => {
      const received: Frame[] = [];
      subscriptions.push(service.events(sessionId).subscribe((event) => received.push(event)));
      return received;
    };

    it('shares sessions with socket clients, both ways', async () => {
      const c = await client();
      // the host creates a session for the user (the user's principal), and uses any session itself
      const hostSession = await service.createSession('from the host', OWNER_PRINCIPAL);
      expect(hostSession).toMatch(UUID);
      const byHost = await service.checkpoint(hostSession, 'host checkpoint', { from: 'host' });
      expect(byHost).toMatch(UUID);
      expect(await list(c, hostSession)).toEqual([listed(byHost, hostSession, 'host checkpoint', 1)]);
      expect(await call(c, 'restore', { session_id: hostSession, checkpoint_id: byHost })).toMatchObject({
        id: byHost,
        sequence: 1,
        state: { from: 'host' },
      });

      const socketSession = await createSession(c, 'from a socket');
      const bySocket = await checkpoint(c, socketSession, 'socket checkpoint', [1, 'two']);
      const hostDefault = await service.checkpoint(socketSession);
      const hostList = await service.listCheckpoints(socketSession);
      expect(hostList.map((e: any) => [e.id, e.session_id, e.message, e.sequence])).toEqual([
        [bySocket, socketSession, 'socket checkpoint', 1],
        [hostDefault, socketSession, 'Checkpoint', 2],
      ]);
      const restored: any = await service.restore(socketSession, bySocket);
      expect(restored).toMatchObject({ id: bySocket, session_id: socketSession, sequence: 1, state: [1, 'two'] });
      expect((await call(c, 'restore', { session_id: socketSession, checkpoint_id: hostDefault })).state).toBeNull();
    });

    it('keeps the sessions the host creates for itself from socket clients (admins excepted)', async () => {
      const c = await client();
      const own = await service.createSession('the host’s own');
      const id = await service.checkpoint(own, 'host only', { secret: true });
      expect(await service.hasSession(own)).toBe(true);
      expect(await service.hasSession(own, OWNER_PRINCIPAL)).toBe(false);
      const refused = await rpc(c, 'list_checkpoints', { session_id: own });
      expect(refused).toEqual(failure(refused.id, NO_SESSION));
      const root = await openCheckpoint(t, { sub: 'root', roles: ['admin'] });
      open.push(root);
      expect(await list(root, own)).toEqual([listed(id, own, 'host only', 1)]);
      await expect(service.listCheckpoints(own, OWNER_PRINCIPAL)).rejects.toThrow(NO_SESSION);
    });

    it('deletes and compacts from the host; socket clients see the result', async () => {
      const c = await client();
      const session = await service.createSession(undefined, OWNER_PRINCIPAL);
      const ids: string[] = [];
      for (let i = 1; i <= 4; i++) ids.push(await service.checkpoint(session, `h${i}`));
      await service.deleteCheckpoint(session, ids[0]);
      expect((await list(c, session)).map((e) => e.id)).toEqual(ids.slice(1));
      expect(await service.compact(session, 1)).toBe(1);
      expect(await list(c, session)).toEqual([listed(ids[3], session, 'h4', 4)]);
    });

    it('pushes events of host operations to socket subscribers', async () => {
      const watcher = await client('watcher');
      const session = await service.createSession('host events', OWNER_PRINCIPAL);
      await subscribe(watcher, session);
      const a = await service.checkpoint(session, 'a', { n: 1 });
      const b = await service.checkpoint(session, 'b');
      await service.restore(session, a);
      await service.deleteCheckpoint(session, b);
      expect(await service.compact(session, 0)).toBe(0);
      const marker = await service.checkpoint(session, 'marker');
      await awaitCreated([watcher], marker);
      expect(events(watcher)).toEqual([
        eventFrame('checkpoint_created', a, session),
        eventFrame('checkpoint_created', b, session),
        eventFrame('checkpoint_restored', a, session),
        eventFrame('checkpoint_deleted', b, session),
        compactedFrame(session, 0),
        eventFrame('checkpoint_created', marker, session),
      ]);
    });

    it('emits on events() what socket subscribers get, for socket-caused operations', async () => {
      const actor = await client('actor');
      const watcher = await client('watcher');
      const session = await createSession(actor);
      const other = await createSession(actor);
      const received = collect(session);
      const otherReceived = collect(other);
      await subscribe(watcher, session);
      const a = await checkpoint(actor, session, 'a');
      await call(actor, 'restore', { session_id: session, checkpoint_id: a });
      await call(actor, 'compact', { session_id: session, keep: 0 });
      const marker = await checkpoint(actor, session, 'marker');
      await awaitCreated([watcher], marker);
      await eventually(() => received.length >= 4, 3000, 'four host events');
      await sleep(50);
      expect(received).toEqual([
        eventFrame('checkpoint_created', a, session),
        eventFrame('checkpoint_restored', a, session),
        compactedFrame(session, 0),
        eventFrame('checkpoint_created', marker, session),
      ]);
      // the same objects subscribers get, timestamps included
      expect(received).toEqual(events(watcher));
      expect(otherReceived).toEqual([]);
    });
  });
});
