import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { frameValidationPipe, RealtimeGateway, type InboundFrame } from '../core/gateway/index.js';
import { isRecord } from '../core/text/index.js';
import { openWith } from '../core/registry/index.js';
import type { Connection } from '../core/transport/index.js';
import { notifyFrame, type NotifyFrame } from './notify-events.js';
import { NOTIFY_GATEWAY } from './notify.definition.js';
import { NotifyInboundDto } from './notify.dto.js';
import { NotifyService } from './notify.service.js';

/** `/ws` and `/ws/:clientId` (seed 002, SPEC.md §6). */
@RealtimeGateway(NOTIFY_GATEWAY)
export class NotifyGateway implements OnGatewayConnection<Connection>, OnGatewayDisconnect<Connection> {
  constructor(private readonly notify: NotifyService) {}

  /** The welcome, then the messages missed since the query's positions (SPEC.md §11); or `Client id in use`. */
  handleConnection(connection: Connection): void {
    openWith(connection, this.notify.connect(connection));
  }

  handleDisconnect(connection: Connection): void {
    this.notify.disconnect(connection);
  }

  /** A client's own ping is answered with its `ping_id`. */
  @SubscribeMessage('ping')
  ping(@MessageBody() frame: InboundFrame): NotifyFrame {
    const pingId = isRecord(frame.meta) ? frame.meta.ping_id : undefined;
    return notifyFrame('pong', 'pong', { ping_id: pingId ?? null });
  }

  /** The answer to the server's ping: receiving it is what keeps the client alive. */
  @SubscribeMessage('pong')
  pong(): void {}

  /** Any other type is the host app's (`NotifyPublisher.messages()`). */
  @SubscribeMessage('message')
  message(@ConnectedSocket() connection: Connection, @MessageBody(frameValidationPipe) frame: NotifyInboundDto): void {
    this.notify.receive(connection, frame);
  }
}
