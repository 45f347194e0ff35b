/**
 * Every Redis key the module writes, under the configured prefix. Keys that one command
 * touches together share a hash tag (`{…}`), so each multi-key command stays in one slot of
 * a Redis Cluster (no CROSSSLOT).
 */
export class RedisKeys {
  /** The bus stream every instance appends to and reads. */
  readonly busStream: string;
  /** The set of live instance ids. */
  readonly instances: string;

  constructor(private readonly prefix: string) {
    this.busStream = `${prefix}{ws:bus}:events`;
    this.instances = `${prefix}{ws:cluster}:instances`;
  }

  /** One instance's per-user counts and room presence (read on upgrades and joins). */
  instanceState(instanceId: string): string {
    return `${this.prefix}{ws:cluster}:instance:${instanceId}:state`;
  }

  /**
   * One checkpoint session's keys: its hash (name, created_at, the sequence counter), the order of
   * its checkpoints (sorted set by sequence), their metadata and their states (hashes by id). One
   * hash tag per session, so each Lua script runs in one slot.
   */
  checkpointSession(sessionId: string): { session: string; order: string; meta: string; state: string } {
    const base = `${this.prefix}{ws:checkpoint:${sessionId}}`;
    return { session: `${base}:session`, order: `${base}:order`, meta: `${base}:meta`, state: `${base}:state` };
  }

  /** Totals of sessions and checkpoints, for `metrics`. */
  checkpointTotals(): string {
    return `${this.prefix}{ws:checkpoint}:totals`;
  }

  /** One instance's client descriptors (read by the admin views). */
  instanceClients(instanceId: string): string {
    return `${this.prefix}{ws:cluster}:instance:${instanceId}:clients`;
  }
}
