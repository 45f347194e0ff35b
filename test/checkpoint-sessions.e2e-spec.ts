import {
  NO_CHECKPOINT,
  NO_SESSION,
  UUID,
  anyIso,
  call,
  checkpoint,
  createSession,
  failure,
  list,
  listed,
  metrics,
  reply,
  request,
  rpc,
  someError,
} from './support/checkpoint-client.js';
import { checkpointMethodsApp } from './support/checkpoint-fixtures.js';

/**
 * SPEC §5 (seed 003), the checkpoint RPC methods that keep sessions (memory store): create_session,
 * checkpoint, list_checkpoints, restore, delete_checkpoint and compact. Request order, errors and
 * metrics: test/checkpoint-rpc.e2e-spec.ts; events and the host API: test/checkpoint-events.e2e-spec.ts.
 */

describe('checkpoint gateway: methods (SPEC §5)', () => {
  const { client, stranger } = checkpointMethodsApp();

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
      const response = await rpc(c, 'create_session', { name }, { invalid: true });
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
      const response = await rpc(c, 'checkpoint', { session_id: session, message }, { invalid: true });
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
      const response = await rpc(c, 'compact', params, { invalid: true });
      expect(response).toEqual(failure(response.id, someError()));
      expect(await list(c, session)).toEqual(entries);
    });
  });
});
