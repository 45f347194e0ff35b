import { SchedulerPublisher, type RealtimeModuleOptions } from '../../src/realtime/index.js';
import { closeAll, type Frame, type TestClient } from './test-client.js';
import { startTestApp, type TestApp, type TokenOptions } from './test-app.js';
import type { Claims } from './tokens.js';
import {
  FORBIDDEN,
  errorFrame,
  events,
  idPattern,
  isoTimestamp,
  openScheduler,
  quiet,
  reply,
  subscribe,
  subscribeMessage,
  unsubscribe,
  waitEvents,
  type ResourceType,
} from './scheduler-client.js';

/**
 * Fixtures the scheduler e2e specs share: connections closed after each test, an app with room for
 * the many connections of a routing case, and routing cases written as table rows (who gets an
 * event, the exact frame, and who must not get it).
 */

export const ADMIN: Claims = { sub: 'root', roles: ['admin'] };

/** A stand-in for `get()`'s object that looks it up at each use: usable in a describe block for what its `beforeAll` starts. */
function late<T extends object>(get: () => T): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const target = get();
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** An app for one describe block, with its scheduler publisher and the connections its tests open. */
export interface SchedulerApp {
  /** The app (started before the block's tests, closed after them): use it in tests and hooks only. */
  readonly t: TestApp;
  readonly pub: SchedulerPublisher;
  /** Opens a scheduler connection and checks its path's subscription response; closed after the test. */
  conn(path: string, claims: Claims, options?: TokenOptions): Promise<TestClient>;
  /** Adopts another client, to be closed after the test. */
  track<T extends TestClient>(client: T): T;
}

/**
 * Starts an app with `options` before the enclosing describe block's tests and closes it after
 * them; after each test, closes the connections the test opened (through `conn` or `track`) and
 * waits until each socket is closed.
 */
export function schedulerApp(options: RealtimeModuleOptions = {}): SchedulerApp {
  let app: TestApp | undefined;
  const open: TestClient[] = [];
  beforeAll(async () => {
    app = await startTestApp(options);
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(() => app?.close());
  const t = late((): TestApp => {
    if (!app) throw new Error('the app is not started: use it in tests and hooks only');
    return app;
  });
  const track = <T extends TestClient>(client: T): T => {
    open.push(client);
    return client;
  };
  return {
    t,
    pub: late(() => t.app.get(SchedulerPublisher)),
    conn: async (path, claims, tokenOptions) => track(await openScheduler(t, path, claims, tokenOptions)),
    track,
  };
}

/** An app with limits no routing case reaches: 1,000 frames a second, 1,000 scheduler connections per user, per IP and in all. */
export const routingApp = (): SchedulerApp =>
  schedulerApp({
    rateLimitPerSec: 1000,
    scheduler: { maxConnectionsPerUser: 1000, maxConnectionsPerIp: 1000, maxConnections: 1000 },
  });

/** Waits for `id` on every receiver, then checks after a quiet wait: once each, and nothing anywhere else. */
export async function expectRouted(
  id: string,
  type: string,
  receivers: Record<string, TestClient>,
  negatives: Record<string, TestClient>,
): Promise<Frame> {
  expect(typeof id).toBe('string');
  for (const [name, client] of Object.entries(receivers)) {
    await waitEvents(client, (f) => f.type === type && f.id === id).catch((error: Error) => {
      throw new Error(`receiver ${name}: ${error.message}`);
    });
  }
  await quiet([...Object.values(receivers), ...Object.values(negatives)]);
  const got = (clients: Record<string, TestClient>) =>
    Object.fromEntries(Object.entries(clients).map(([name, client]) => [name, events(client).map((f) => f.type)]));
  expect(got(receivers)).toEqual(Object.fromEntries(Object.keys(receivers).map((name) => [name, [type]])));
  expect(got(negatives)).toEqual(Object.fromEntries(Object.keys(negatives).map((name) => [name, []])));
  const frames = Object.values(receivers).map((client) => events(client)[0]);
  for (const frame of frames) expect(frame).toEqual(frames[0]);
  return frames[0];
}

// ---------------------------------------------------------------------------------------------
// Routing cases as table rows
// ---------------------------------------------------------------------------------------------

/** What a connection of a routing case does after connecting: a subscription, an unsubscription, or a refused subscription. */
export type Step = readonly ['subscribe' | 'unsubscribe' | 'refused', ResourceType, string?];

export const sub = (type: ResourceType, id?: string): Step => ['subscribe', type, id];
export const unsub = (type: ResourceType, id?: string): Step => ['unsubscribe', type, id];
/** A subscription answered with exactly `{"type":"error","error":"Forbidden"}`. */
export const refuse = (type: ResourceType, id?: string): Step => ['refused', type, id];

/** A connection of a routing case: the path it connects to, as whom, then its steps in order. */
export interface Conn {
  path: string;
  claims: Claims;
  steps: readonly Step[];
}
export const at = (path: string, claims: Claims, ...steps: Step[]): Conn => ({ path, claims, steps });

/** Who must get an event (once, the exact frame) and who must not, by name. */
export interface Audience {
  receivers: Record<string, Conn>;
  negatives: Record<string, Conn>;
}

/**
 * One routing case: its audience, and the exact event the receivers get: `type`, an id
 * `<idPrefix>_<unixSeconds>_<suffix>`, an ISO timestamp and exactly `data`.
 */
export interface RoutingCase extends Audience {
  name: string;
  type: string;
  idPrefix: string;
  data: unknown;
}

async function connect(conn: SchedulerApp['conn'], conns: Record<string, Conn>) {
  const clients: Record<string, TestClient> = {};
  for (const [name, { path, claims, steps }] of Object.entries(conns)) {
    const client = await conn(path, claims);
    for (const [action, type, id] of steps) {
      if (action === 'subscribe') await subscribe(client, type, id);
      else if (action === 'unsubscribe') await unsubscribe(client, type, id);
      else expect(await reply(client, subscribeMessage('subscribe', type, id))).toEqual(errorFrame(FORBIDDEN));
    }
    clients[name] = client;
  }
  return clients;
}

/**
 * Opens the receivers, then the negatives (each with its steps, through `conn`), publishes with `publish`, and
 * checks the id, that every receiver got the exact frame once, and (after a ping round trip on
 * every connection and a quiet wait) that no negative got anything. Resolves with the frame.
 */
export async function expectRoutingCase(
  conn: SchedulerApp['conn'],
  routingCase: RoutingCase,
  publish: () => string | Promise<string>,
): Promise<Frame> {
  const receivers = await connect(conn, routingCase.receivers);
  const negatives = await connect(conn, routingCase.negatives);
  const id = await publish();
  expect(id).toEqual(idPattern(routingCase.idPrefix));
  const frame = await expectRouted(id, routingCase.type, receivers, negatives);
  expect(frame).toEqual({ type: routingCase.type, id, timestamp: isoTimestamp(), data: routingCase.data });
  return frame;
}
