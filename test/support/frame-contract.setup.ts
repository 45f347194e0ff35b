import { afterEach, beforeAll, expect } from '@jest/globals';
import { expectNoContractViolations, useContract } from './frame-contract.js';

// Every e2e file checks its clients' frames: against the built-in gateways' document until an app of
// the test serves its own (`startTestApp` then uses what `/ws/asyncapi.json` answers). Unit specs have
// no clients and skip the import.
beforeAll(async () => {
  if (!/[/\\]test[/\\]/.test(expect.getState().testPath ?? '')) return;
  const { builtInContract } = await import('./built-in-contract.js');
  useContract(builtInContract());
});
afterEach(() => expectNoContractViolations());
