import type { RealtimeModuleOptions } from '../../src/realtime/index.js';
import { closeAll, type TestClient } from './test-client.js';
import { startTestApp, type TestApp } from './test-app.js';

/** The app of one describe block and the clients its tests open (see `describeApp`). */
export interface DescribeApp {
  /** The block's app: usable in its tests and hooks (not in the describe body, where it is not started yet). */
  readonly t: TestApp;
  /** The clients the current test opened: closed after it. */
  readonly open: TestClient[];
  /** Adds `client` to `open` and returns it. */
  track<T extends TestClient>(client: T): T;
}

/**
 * Called in a describe body: starts the realtime module with `options` before the block's tests
 * (`startTestApp`), closes the clients each test `track`ed after it, then waits for `settle` (what
 * the app must be back to between tests), and closes the app after the block, so nothing is left
 * open when Jest ends.
 */
export function describeApp(options: RealtimeModuleOptions = {}, settle?: (t: TestApp) => Promise<void>): DescribeApp {
  let started: TestApp | undefined;
  const current = (): TestApp => {
    if (!started) throw new Error('the describe block’s app is not started: use it in a test or hook');
    return started;
  };
  const t: TestApp = {
    get app() {
      return current().app;
    },
    get port() {
      return current().port;
    },
    get baseUrl() {
      return current().baseUrl;
    },
    wsUrl: (path, token) => current().wsUrl(path, token),
    chat: (claims) => current().chat(claims),
    http: (method, path, httpOptions) => current().http(method, path, httpOptions),
    close: () => current().close(),
  };
  const open: TestClient[] = [];

  beforeAll(async () => {
    started = await startTestApp(options);
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    if (settle) await settle(t);
  });
  afterAll(async () => {
    await started?.close();
    started = undefined;
  });

  return {
    t,
    open,
    track: (client) => {
      open.push(client);
      return client;
    },
  };
}
