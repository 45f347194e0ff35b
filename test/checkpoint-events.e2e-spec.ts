import type { Subscription } from 'rxjs';
import { CheckpointService } from '../src/realtime/index.js';
import { eventually, sleep, type Frame } from './support/test-client.js';
import {
  NO_SESSION,
  UUID,
  awaitCreated,
  call,
  checkpoint,
  compactedFrame,
  createSession,
  eventFrame,
  events,
  failure,
  list,
  listed,
  metrics,
  openCheckpoint,
  randomUUID,
  rpc,
  subscribe,
  unsubscribe,
  waitEvents,
} from './support/checkpoint-client.js';
import { OWNER_PRINCIPAL, checkpointMethodsApp } from './support/checkpoint-fixtures.js';

/**
 * SPEC §5 (seed 003), checkpoint events (memory store): what subscribers are pushed, and the host API
 * (`CheckpointService`) sharing sessions and events with socket clients. The session methods:
 * test/checkpoint-sessions.e2e-spec.ts; request order, errors and metrics: test/checkpoint-rpc.e2e-spec.ts.
 */

describe('checkpoint gateway: methods (SPEC §5)', () => {
  const { t, open, client } = checkpointMethodsApp();

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
      await rpc(actor, 'compact', { session_id: session, keep: -1 }, { invalid: true });
      await rpc(actor, 'checkpoint', { session_id: session, message: 5 }, { invalid: true });
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
