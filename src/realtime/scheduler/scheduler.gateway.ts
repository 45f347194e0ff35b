import { ConnectedSocket, MessageBody, SubscribeMessage, type OnGatewayConnection } from '@nestjs/websockets';
import { frameValidationPipe, RealtimeGateway, type InboundFrame } from '../core/gateway/index.js';
import { openWith, sendThen } from '../core/registry/index.js';
import type { Connection } from '../core/transport/index.js';
import { timestamp, type SchedulerFrame } from './scheduler-events.js';
import { frameId, SCHEDULER_GATEWAY } from './scheduler.definition.js';
import { SystemStatusFrameDto } from './scheduler.dto.js';
import { SchedulerService } from './scheduler.service.js';

/** `/ws/experiments/:id`, `/ws/tasks/:id`, `/ws/projects/:id`, `/ws/user` (seed 001, SPEC.md §4). */
@RealtimeGateway(SCHEDULER_GATEWAY)
export class SchedulerGateway implements OnGatewayConnection<Connection> {
  constructor(private readonly scheduler: SchedulerService) {}

  /** The path's subscription response, then the events missed since the query's position (SPEC.md §11). */
  handleConnection(connection: Connection): void {
    openWith(connection, this.scheduler.connect(connection));
  }

  @SubscribeMessage('ping')
  ping(@MessageBody() frame: InboundFrame): SchedulerFrame {
    return { type: 'pong', id: pongId(frame.id), timestamp: timestamp() };
  }

  /** The answer to the server's app-level ping: the frame itself counts as life. */
  @SubscribeMessage('pong')
  pong(): void {}

  @SubscribeMessage('system_status')
  systemStatus(
    @ConnectedSocket() connection: Connection,
    @MessageBody(frameValidationPipe) frame: SystemStatusFrameDto,
  ): SchedulerFrame | Promise<void> {
    const data = frame.data;
    if (!data?.action) return this.scheduler.snapshot();
    if (data.action === 'unsubscribe')
      return this.scheduler.unsubscribe(connection, data.resourceType, data.resourceId);
    // The reply, then the events missed since `data.since` (SPEC.md §11).
    return this.scheduler
      .subscribe(connection, data.resourceType, data.resourceId, data.since)
      .then((answer) => sendThen(connection, answer));
  }
}

/** SPEC §4: the ping's id with a leading `ping` turned into `pong`; a fresh id when it has none. */
function pongId(id: unknown): string {
  if (typeof id !== 'string' || id === '') return frameId('pong');
  return id.startsWith('ping') ? `pong${id.slice(4)}` : id;
}
