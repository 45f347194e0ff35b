import type { ClusterView } from '../cluster/cluster-view.service.js';
import { CloseCode } from '../gateway/realtime-error.js';
import type { LifecycleLog } from '../logging/lifecycle-log.js';
import type { ConnectionRegistry } from '../registry/connection-registry.service.js';
import type { Connection } from './connection.js';
import type { InboundPipeline } from './inbound-pipeline.js';

const SHUTDOWN_CLOSE_TIMEOUT_MS = 5_000;
const TERMINATE_SETTLE_MS = 500;
/** A drain closes its connections in this many waves at most, evenly spread over `drainMs`. */
const DRAIN_WAVES = 20;
/** How long a wave waits for a connection's request in flight to be answered before closing it. */
const IN_FLIGHT_WAIT_MS = 2_000;

/**
 * The drain of SPEC.md §9, once the transport refuses upgrades: the connections, in random order,
 * are closed with 1012 in waves spread over `drainMs` (all at once for 0), each after its request
 * in flight is answered, so that clients come back elsewhere without a stampede; stragglers are
 * terminated; the instance's cluster state is released (the presence of the users it closed
 * handed over: see `ClusterPresence.leave`, `ClusterView.withdraw`).
 */
export class ShutdownDrain {
  constructor(
    private readonly drainMs: number,
    private readonly registry: ConnectionRegistry,
    private readonly inbound: InboundPipeline,
    private readonly cluster: ClusterView,
    private readonly log: LifecycleLog,
  ) {}

  async run(): Promise<void> {
    const connections = shuffled(this.registry.list());
    this.log.info('shutdown', { connections: connections.length, drain_ms: this.drainMs });
    const waves = this.drainMs > 0 ? Math.max(1, Math.min(DRAIN_WAVES, connections.length)) : 1;
    const startedAt = Date.now();
    for (let wave = 0; wave < waves; wave++) {
      // Wave k leaves at k/(waves−1) of the drain: the first at once, the last at its end.
      const at = waves > 1 ? startedAt + (wave * this.drainMs) / (waves - 1) : startedAt;
      if (at > Date.now()) await sleep(at - Date.now());
      const slice = connections.slice(
        Math.floor((wave * connections.length) / waves),
        Math.floor(((wave + 1) * connections.length) / waves),
      );
      await Promise.all(slice.map((connection) => this.closeForRestart(connection)));
    }
    const deadline = Date.now() + SHUTDOWN_CLOSE_TIMEOUT_MS;
    while (this.registry.size > 0 && Date.now() < deadline) await sleep(25);
    for (const connection of this.registry.list()) connection.terminate();
    // Terminated sockets report their close on a later turn: their leaves go out before the cluster is left.
    while (this.registry.size > 0 && Date.now() < deadline + TERMINATE_SETTLE_MS) await sleep(10);
    await this.cluster.withdraw();
  }

  private async closeForRestart(connection: Connection): Promise<void> {
    await this.inbound.idle(connection, IN_FLIGHT_WAIT_MS);
    connection.close(CloseCode.SERVICE_RESTART, 'Server shutting down');
  }
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
