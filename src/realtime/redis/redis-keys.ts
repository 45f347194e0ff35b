/**
 * Every Redis key the module writes, under the configured prefix. Keys that one command
 * touches together share a hash tag (`{…}`), so each multi-key command stays in one slot of
 * a Redis Cluster (no CROSSSLOT); everything else is tagged by what it is about (a user, a
 * topic, an instance), so that no slot carries the whole cluster's admissions or joins.
 */
export class RedisKeys {
  /** The channel of the bus's control messages (disconnects), which every instance receives. */
  readonly control: string;
  /** The set of instance ids that have announced themselves (live, or dead and not yet reaped). */
  readonly instances: string;

  constructor(private readonly prefix: string) {
    this.control = `${prefix}{ws:control}`;
    this.instances = `${prefix}{ws:cluster}:instances`;
  }

  /**
   * One stream's keys (SPEC.md §11): its position (hash: offset, epoch), its history (a Redis stream)
   * and its shard channel. Tagged per topic, so the traffic of a Redis Cluster spreads by topic;
   * `sharedSlot` gateways (events routed to several topics at once) share one tag, so that one
   * event's streams are written in one script.
   */
  stream(gateway: string, topic: string, sharedSlot: boolean): { meta: string; history: string; channel: string } {
    const base = sharedSlot
      ? `${this.prefix}{ws:stream:${gateway}}:${topic}`
      : `${this.prefix}{ws:stream:${gateway}:${topic}}`;
    return { meta: `${base}:meta`, history: `${base}:history`, channel: `${base}:events` };
  }

  /** A connect ticket, by the SHA-256 of its value (a key list shows no usable ticket); tagged by itself, so tickets spread over the slots. */
  connectTicket(digest: string): string {
    return `${this.prefix}{ws:ticket:${digest}}`;
  }

  /** Present while the instance is alive: written every cluster tick under a lease (same slot as `instances`). */
  instanceAlive(instanceId: string): string {
    return `${this.prefix}{ws:cluster}:instance:${instanceId}:alive`;
  }

  /**
   * Present for one lease after an instance stopped (same slot as `instances`): until it ends, the
   * others leave what it handed over (the presence of the users it drained) for them to come back.
   */
  instanceLeaving(instanceId: string): string {
    return `${this.prefix}{ws:cluster}:instance:${instanceId}:leaving`;
  }

  /** One instance's client descriptors (read by the admin views; same slot as `instances`). */
  instanceClients(instanceId: string): string {
    return `${this.prefix}{ws:cluster}:instance:${instanceId}:clients`;
  }

  /** What an instance has entered presence for (hash: `[gateway, topic, sub]` → presence data), for its reaper. */
  instancePresence(instanceId: string): string {
    return `${this.prefix}{ws:instance:${instanceId}}:presence`;
  }

  /** The connections one user holds on one gateway, per instance (hash: instance → `count:leaseEnd`). */
  userSlots(gateway: string, sub: string): string {
    return `${this.prefix}{ws:user:${gateway}:${sub}}:slots`;
  }

  /** The instances on which one user is present in one topic (hash: instance → `1:leaseEnd`). */
  presence(gateway: string, topic: string, sub: string): string {
    return `${this.prefix}{ws:topic:${gateway}:${topic}}:presence:${sub}`;
  }

  /** The principal that owns a notify client id (SPEC.md §6), while a connection or its history holds it. */
  clientOwner(clientId: string): string {
    return `${this.prefix}{ws:client:${clientId}}:owner`;
  }

  /**
   * What one owner of checkpoint sessions holds (SPEC.md §5), under one hash tag per owner with the
   * sessions themselves, so that a quota check and the write it guards are one script in one slot:
   * the owner's sessions (sorted set: id → expiry in ms, `+inf` without TTL), their usage (hash:
   * `total` bytes; per session id its bytes, and `n:<id>` its checkpoint count), and the prefix of
   * its sessions' keys (`<prefix><sessionId>:info|order|meta|state`, see `checkpointSession`).
   * The owner is URI-encoded, so no `{` or `}` of a `sub` can move the tag.
   */
  checkpointOwner(owner: string): { sessions: string; usage: string; sessionPrefix: string } {
    const base = `${this.prefix}{ws:checkpoint:owner:${encodeURIComponent(owner)}}`;
    return { sessions: `${base}:sessions`, usage: `${base}:usage`, sessionPrefix: `${base}:session:` };
  }

  /**
   * One checkpoint session's keys, in its owner's slot: its hash (name, created_at, the sequence
   * counter), the order of its checkpoints (sorted set by sequence), their metadata and their
   * states (hashes by id). The store's scripts build the same names from `sessionPrefix`.
   */
  checkpointSession(owner: string, sessionId: string): { info: string; order: string; meta: string; state: string } {
    const base = `${this.checkpointOwner(owner).sessionPrefix}${sessionId}`;
    return { info: `${base}:info`, order: `${base}:order`, meta: `${base}:meta`, state: `${base}:state` };
  }

  /** Which owner a checkpoint session belongs to (string), tagged by session: the one key a session id alone finds. */
  checkpointSessionOwner(sessionId: string): string {
    return `${this.prefix}{ws:checkpoint:session:${sessionId}}:owner`;
  }

  /** Totals of sessions and checkpoints, for `metrics`. */
  checkpointTotals(): string {
    return `${this.prefix}{ws:checkpoint}:totals`;
  }

  /**
   * Sessions by the earliest time they may have expired (sorted set: `<sessionId><owner>` → ms), in the
   * slot of the totals: written when a session is made and when a sweep finds it still alive, so
   * that the sessions of owners who never come back are reclaimed (and leave the totals) too.
   */
  checkpointExpiries(): string {
    return `${this.prefix}{ws:checkpoint}:expiries`;
  }
}
