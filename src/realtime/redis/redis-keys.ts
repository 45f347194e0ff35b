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

  /** One instance's client descriptors (read by the admin views). */
  instanceClients(instanceId: string): string {
    return `${this.prefix}{ws:cluster}:instance:${instanceId}:clients`;
  }
}
