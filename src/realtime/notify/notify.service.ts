import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { CloseCode } from '../core/gateway/index.js';
import { ClusterView } from '../core/cluster/index.js';
import { BROADCAST } from '../bus/index.js';
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

/** The stream of the messages to one client id. */
export const clientTopic = (clientId: string): string => `client:${clientId}`;

/**
 * Client-addressed messaging of the notify gateway (seed 002's `ConnectionManager`): one client id
 * is one connection in the whole cluster, messages go to one client or to all on every instance,
 * and what clients send is handed to the host app.
 */
@Injectable()
export class NotifyService implements OnApplicationShutdown {
  private readonly inbound = new Subject<NotifyInbound>();

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly fanout: Fanout,
    private readonly cluster: ClusterView,
  ) {}

  onApplicationShutdown(): void {
    this.inbound.complete();
  }

  /**
   * Closes any older connection of this client id (4409), here or elsewhere, and opens the client's
   * and the broadcast streams (resumed from the query's positions); returns the welcome, which then
   * the missed messages follow.
   */
  async connect(connection: Connection): Promise<ReplyThen<NotifyFrame>> {
    if (connection.params.clientId !== undefined) {
      this.registry.displacedBy(connection)?.close(CloseCode.REPLACED, REPLACED);
      this.fanout.claimId(connection, CloseCode.REPLACED, REPLACED);
    }
    const { streams, release } = await this.fanout.joinStreams(connection, [
      { topic: clientTopic(connection.id), since: connection.resumeFrom?.stream },
      { topic: BROADCAST, since: connection.resumeFrom?.broadcast },
    ]);
    const content: Record<string, unknown> = { client_id: connection.id };
    if (this.fanout.positioned || streams.some((stream) => stream.recovered !== undefined)) {
      content.streams = Object.fromEntries(streams.map(describeStream));
    }
    return { reply: notifyFrame('connected', content), release };
  }

  /** To one client id (on whichever instance holds it), or to every notify client. */
  send(message: NotifyMessage, clientId?: string): void {
    const frame = notifyFrame(message.type, message.content ?? null, message.meta);
    this.fanout.toTopics(NOTIFY_GATEWAY.gateway, [clientId === undefined ? BROADCAST : clientTopic(clientId)], frame);
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
    if (!this.inbound.observed) return;
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
}

function describeStream(stream: JoinedStream): [string, object] {
  return [stream.topic, positionFields(stream)];
}
