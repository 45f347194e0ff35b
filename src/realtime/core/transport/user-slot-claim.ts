import type { Principal } from '../auth/principal.js';
import type { ClusterView } from '../cluster/cluster-view.service.js';
import { UserSlot, type UserSlots } from '../cluster/user-slots.service.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { RealtimeError } from '../gateway/realtime-error.js';
import type { ConnectionRegistry } from '../registry/connection-registry.service.js';
import type { RouteMatch } from './gateway-router.js';
import type { RegisteredGateway } from './registered-gateway.js';

/** A user's place under a gateway's per-user limit, the refusal, or none (no limit, no principal). */
export type SlotClaim = UserSlot | RealtimeError | undefined;

/**
 * SPEC.md §9: the per-user limit counts the user's connections on every instance (one round trip),
 * claimed before the upgrade so that no frame arrives while the cluster is asked. A user at the
 * limit who reconnects under a connection id they already hold (a notify client id) is let in: the
 * connection it replaces leaves.
 */
export class UserSlotClaim {
  constructor(
    private readonly userSlots: UserSlots,
    private readonly registry: ConnectionRegistry,
    private readonly cluster: ClusterView,
  ) {}

  async claim(gateway: RegisteredGateway, principal: Principal | undefined, route: RouteMatch): Promise<SlotClaim> {
    const limit = gateway.limits.perUser;
    if (principal === undefined || limit === undefined) return undefined;
    const name = gateway.definition.gateway;
    const slot = await this.userSlots.claim(name, principal.sub, limit);
    if (!(slot instanceof RealtimeError)) return slot;
    const idParam = gateway.definition.connectionIdParam;
    const id = idParam === undefined ? undefined : route.params[idParam];
    if (id === undefined || !(await this.heldBy(name, id, principal.sub))) return slot;
    return this.userSlots.claim(name, principal.sub, limit + 1);
  }

  /** Whether user `sub` has a connection of `gateway` with this id, here or on another instance. */
  private async heldBy(gateway: GatewayName, id: string, sub: string): Promise<boolean> {
    const local = this.registry.get(id);
    if (local) return local.gateway === gateway && local.principal?.sub === sub;
    const elsewhere = await this.cluster.clientsElsewhere();
    return elsewhere.some((client) => client.gateway === gateway && client.id === id && String(client.user_id) === sub);
  }
}

/** Gives a claimed place back (a refused or failed upgrade). */
export function releaseSlot(slot: SlotClaim): void {
  if (slot instanceof UserSlot) slot.release();
}
