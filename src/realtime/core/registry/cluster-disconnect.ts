import type { BusMessage, EventBus, IdClaim } from '../../bus/event-bus.js';
import type { RealtimeConfig } from '../../config/index.js';
import type { Connection } from '../transport/connection.js';
import type { ConnectionRegistry } from './connection-registry.service.js';

export type DisconnectMessage = Extract<BusMessage, { kind: 'disconnect' }>;

/**
 * Closes a connection by id on whichever instance holds it: an administrator's disconnect, or an id
 * claim (notify client ids) that closes the older holder of the id, the newest claim winning.
 */
export class ClusterDisconnect {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly bus: Pick<EventBus, 'publish'>,
    private readonly config: Pick<RealtimeConfig, 'instanceId'>,
  ) {}

  /** Closes the connection with this id, wherever it is. */
  disconnect(connectionId: string, code: number, reason: string): void {
    this.bus.publish({ kind: 'disconnect', connectionId, code, reason });
  }

  /**
   * Claims `connection`'s id for it on every instance: any other connection of its gateway with that
   * id that is older is closed. Two claims racing on two instances leave exactly the newest one.
   */
  claimId(connection: Connection, code: number, reason: string): void {
    const claim: IdClaim = { at: connection.connectedAt, instance: this.config.instanceId };
    this.bus.publish({
      kind: 'disconnect',
      connectionId: connection.id,
      code,
      reason,
      gateway: connection.gateway,
      claim,
    });
  }

  /** A disconnect the bus brought: closes the local connection it names, if any; returns how many were closed. */
  deliver(message: DisconnectMessage): number {
    const connection = this.registry.get(message.connectionId);
    if (!connection || (message.gateway !== undefined && connection.gateway !== message.gateway)) return 0;
    if (message.claim && !this.olderThan(connection, message.claim)) return 0;
    connection.close(message.code, message.reason);
    return 1;
  }

  private olderThan(connection: Connection, claim: IdClaim): boolean {
    const at = connection.connectedAt;
    return at < claim.at || (at === claim.at && this.config.instanceId < claim.instance);
  }
}
