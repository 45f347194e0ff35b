import type { Principal } from '../../src/realtime/index.js';
import type { TestClient } from './test-client.js';
import { openCheckpoint } from './checkpoint-client.js';
import { describeApp, type DescribeApp } from './describe-app.js';

/**
 * What the `checkpoint gateway: methods (SPEC §5)` files (checkpoint-sessions, checkpoint-rpc,
 * checkpoint-events) share: one app on the memory store, and connections of one owner.
 *
 * Sessions have owners (SPEC §5, test/checkpoint-owners.e2e-spec.ts): the connections of these tests
 * are tabs of one principal, each with its own label as username, unless a test says otherwise.
 */
export const OWNER = 'cp-user';
export const OWNER_PRINCIPAL: Principal = { sub: OWNER, userId: OWNER, username: OWNER, roles: [] };

export interface CheckpointMethodsApp extends DescribeApp {
  /** A connection of OWNER, labelled `label`, closed after the test. */
  client(label?: string): Promise<TestClient>;
  /** A connection of another principal, closed after the test. */
  stranger(sub: string): Promise<TestClient>;
}

/** Called in the describe body: the app of the methods tests and their connections. */
export function checkpointMethodsApp(): CheckpointMethodsApp {
  // pipelined tests send more than the default burst of 40
  const shared = describeApp({ rateLimitPerSec: 10_000 });
  const { t, track } = shared;
  return {
    ...shared,
    client: async (label = OWNER) => track(await openCheckpoint(t, { sub: OWNER, username: label })),
    stranger: async (sub) => track(await openCheckpoint(t, { sub })),
  };
}
