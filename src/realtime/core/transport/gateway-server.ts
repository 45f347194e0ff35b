import { EventEmitter } from 'node:events';
import type { GatewayProtocol } from '../gateway/gateway-definition.js';

/** What Nest sees as one gateway's "server": admitted connections are emitted on it. */
export class GatewayServer extends EventEmitter {
  constructor(readonly protocol: GatewayProtocol) {
    super();
  }

  close(callback?: () => void): void {
    this.removeAllListeners('connection');
    callback?.();
  }
}
