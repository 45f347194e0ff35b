import { eventually } from './test-client.js';
import { ADMIN_TOKEN, type TestApp } from './test-app.js';
import { listedNotifyIds } from './notify-client.js';

/** What the notify e2e files (notify-connections, notify-messages, notify-rest) share. */

/** Now, in seconds since the epoch (a token's `exp`). */
export const now = (): number => Math.floor(Date.now() / 1000);

/** The longest client id there is: 64 characters of the allowed alphabet. */
export const ID_64 = `${'a1_.-B'.repeat(10)}abcd`;

/** Between tests: the admin view lists no notify client any more. */
export const noNotifyClients = (t: TestApp): Promise<void> =>
  eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 0, 3000, 'notify clients gone');

/** Between tests: the admin view lists no client of any gateway any more. */
export const noClients = (t: TestApp): Promise<void> =>
  eventually(async () => (await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN })).body.total === 0);
