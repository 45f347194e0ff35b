import { afterEach } from '@jest/globals';
import { expectNoContractViolations, useContract } from './frame-contract.js';
import { builtInContract } from './built-in-contract.js';

// Every e2e file checks its clients' frames: against the built-in gateways' document until an app of
// the test serves its own (`startTestApp` then uses what `/ws/asyncapi.json` answers).
useContract(builtInContract());
afterEach(() => expectNoContractViolations());
