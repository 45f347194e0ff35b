import type { PublishReceipt } from '../bus/index.js';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { ResourceAccess } from '../core/auth/index.js';
import { CloseCode, RealtimeError } from '../core/gateway/index.js';
import { ClusterView } from '../core/cluster/index.js';
import { OwnedIds, type OwnedIdHold } from '../core/cluster/owned-ids.service.js';
import { BROADCAST } from '../bus/index.js';
import { RedisConnector, type RedisKeys } from '../redis/index.js';
import {
  ConnectionRegistry,
  Fanout,
  positionFields,
  type JoinedStream,
  type ReplyThen,
} from '../core/registry/index.js';
import type { Connection } from '../core/transport/index.js';
import { notifyFrame, type NotifyFrame, type NotifyInbound, type NotifyMessage } from './notify-events.js';
import { NOTIFY_GATEWAY } from './notify.definition.js';

const REPLACED = 'Replaced by a new connection';
const ID_IN_USE = RealtimeError.forbidden('Client id in use');

/** How a connection holds its client id: as its owner, or let in by the access policy (no resume). */
type IdAccess = { hold: OwnedIdHold; owner: boolean };

/** The stream of the messages to one client id. */
export const clientTopic = (clientId: string): string => `client:${clientId}`;

/**
 * Client-addressed messaging of the notify gateway (seed 002's `ConnectionManager`): one client id
 * is one connection in the whole cluster, and belongs to the principal that first took it (SPEC.md
 * §6); messages go to one client or to all on every instance, and what clients send is handed to the
 * host app.
 */
@Injectable()
export class NotifyService implements OnApplicationShutdown {
  private readonly inbound = new Subject<NotifyInbound>();
  /** Each connection's hold on its client id, once decided (undefined: refused, or failed). */
  private readonly holds = new WeakMap<Connection, Promise<OwnedIdHold | undefined>>();
  private readonly keys: RedisKeys;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly fanout: Fanout,
    private readonly cluster: ClusterView,
    private readonly owners: OwnedIds,
    private readonly access: ResourceAccess,
    connector: RedisConnector,
  ) {
    this.keys = connector.keys;
  }

  onApplicationShutdown(): void {
    this.inbound.complete();
  }

  /**
   * Takes the client id for the connection's principal, or refuses it (4403) when another principal
   * owns it and the access policy does not let this one in, before any older connection of the id
   * is touched. Then closes that older connection (4409), here or elsewhere, and opens the client's
   * and the broadcast streams, resumed from the query's positions (the client's own stream only for
   * its owner); returns the welcome, which then the missed messages follow.
   */
  async connect(connection: Connection): Promise<ReplyThen<NotifyFrame> | undefined> {
    const taking = this.take(connection);
    this.holds.set(
      connection,
      taking.then(
        (access) => access?.hold,
        () => undefined,
      ),
    );
    // A generated id is nobody's yet: it is recorded meanwhile, and the stream opens at once.
    let owner = true;
    if (connection.params.clientId !== undefined) {
      const access = await taking;
      if (!access) return this.refuse(connection);
      // Gone meanwhile: the older connection stays.
      if (!connection.isOpen) return undefined;
      owner = access.owner;
      this.registry.displacedBy(connection)?.close(CloseCode.REPLACED, REPLACED);
      this.fanout.claimId(connection, CloseCode.REPLACED, REPLACED);
    }
    const resumeFrom = connection.resumeFrom;
    const { streams, release } = await this.fanout.joinStreams(connection, [
      { topic: clientTopic(connection.id), since: owner ? resumeFrom?.stream : undefined },
      { topic: BROADCAST, since: resumeFrom?.broadcast },
    ]);
    // Anyone else but the owner starts from now: it is told it did not recover what it named.
    if (!owner && resumeFrom?.stream) streams[0] = { ...streams[0], recovered: false };
    const content: Record<string, unknown> = { client_id: connection.id };
    if (this.fanout.positioned || streams.some((stream) => stream.recovered !== undefined)) {
      content.streams = Object.fromEntries(streams.map(describeStream));
    }
    return { reply: notifyFrame('connected', content), release };
  }

  /** The connection's hold on its client id ends with it (once taken, if it is still being taken). */
  disconnect(connection: Connection): void {
    void this.holds.get(connection)?.then((hold) => hold?.release());
    this.holds.delete(connection);
  }

  /** To one client id (on whichever instance holds it), or to every notify client. */
  send(message: NotifyMessage, clientId?: string): Promise<PublishReceipt> {
    const frame = notifyFrame(message.type, message.content ?? null, message.meta);
    // What the client's history keeps is its owner's: the id stays owned as long (SPEC.md §6, §11).
    if (clientId !== undefined) this.owners.touch(this.keys.clientOwner(clientId));
    return this.fanout.toTopics(
      NOTIFY_GATEWAY.gateway,
      [clientId === undefined ? BROADCAST : clientTopic(clientId)],
      frame,
    );
  }

  /** How many notify clients a message to `clientId` (or to all) reaches in the cluster now. */
  async reach(clientId?: string): Promise<number> {
    if (clientId !== undefined && this.isLocal(clientId)) return 1;
    const elsewhere = (await this.cluster.clientsElsewhere()).filter(
      (client) => client.gateway === 'notify' && (clientId === undefined || client.id === clientId),
    );
    if (clientId !== undefined) return elsewhere.length > 0 ? 1 : 0;
    return this.registry.countByGateway('notify') + elsewhere.length;
  }

  receive(connection: Connection, frame: { type: string; content?: unknown; meta?: Record<string, unknown> }): void {
    // Frames a refused (or closing) connection sent while it was being opened reach no one.
    if (!this.inbound.observed || !connection.isOpen) return;
    this.inbound.next({
      clientId: connection.id,
      userId: connection.principal?.userId,
      type: frame.type,
      content: frame.content ?? null,
      meta: frame.meta ?? {},
      receivedAt: new Date().toISOString(),
    });
  }

  messages(): Observable<NotifyInbound> {
    return this.inbound.asObservable();
  }

  private isLocal(clientId: string): boolean {
    return this.registry.get(clientId)?.gateway === 'notify';
  }

  /**
   * The connection's hold on its client id: its principal owns it (it was free, or already theirs),
   * or the access policy lets them in (`canAccess(principal, {type: 'client', id})`, asked only of
   * others than the owner); undefined when refused.
   */
  private async take(connection: Connection): Promise<IdAccess | undefined> {
    const { sub } = connection.requirePrincipal();
    const key = this.keys.clientOwner(connection.id);
    const taken = await this.owners.acquire(key, sub);
    if (taken.hold) return { hold: taken.hold, owner: true };
    if (!(await this.access.allows(connection, { type: 'client', id: connection.id }))) return undefined;
    const shared = await this.owners.acquire(key, sub, true);
    // Freed meanwhile, it became theirs.
    return { hold: shared.hold!, owner: shared.owner === sub };
  }

  /**
   * `Client id in use` (4403), without touching the id's owner: the id goes back to the connection it
   * was taken from (the registry gave it to this one at admission).
   */
  private refuse(connection: Connection): undefined {
    this.registry.remove(connection);
    connection.refuse(ID_IN_USE);
    return undefined;
  }
}

function describeStream(stream: JoinedStream): [string, object] {
  return [stream.topic, positionFields(stream)];
}
