import {
  Injectable,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, type OnGatewayConnection } from '@nestjs/websockets';
import { map, type Observable } from 'rxjs';
import {
  frameValidationPipe,
  RealtimeError,
  RealtimeGateway,
  RealtimeTopics,
  type Connection,
  type GatewayPublisher,
} from '../../src/realtime/index.js';
import { WHITEBOARD_GATEWAY } from './whiteboard.definition.js';
import { JoinFrameDto, MoveFrameDto } from './whiteboard.dto.js';

/** What every member of a document hears when someone moves. */
export interface CursorEvent {
  type: 'cursor';
  doc: string;
  user: string;
  x: number;
  y: number;
}

/** A Nest guard on a handler: viewers may watch cursors but not move their own. */
@Injectable()
export class EditorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const connection = context.switchToWs().getClient<Connection>();
    if (connection.principal?.roles.includes('viewer')) throw RealtimeError.forbidden('Viewers cannot move cursors');
    return true;
  }
}

/** A Nest interceptor on a handler: stamps the reply with who answered it. */
@Injectable()
export class AnsweredByInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler<object>): Observable<object> {
    return next.handle().pipe(map((reply) => ({ ...reply, answered_by: 'whiteboard' })));
  }
}

const topicOf = (connection: Connection): string => `doc:${connection.params.docId}`;

/** `/ws/whiteboards/:docId`: the example host gateway, on the module's transport, in the host's own module. */
@RealtimeGateway(WHITEBOARD_GATEWAY)
export class WhiteboardGateway implements OnGatewayConnection<Connection> {
  private readonly cursors: GatewayPublisher<CursorEvent>;

  constructor(private readonly topics: RealtimeTopics) {
    this.cursors = topics.publisher<CursorEvent>(WHITEBOARD_GATEWAY.gateway);
  }

  handleConnection(connection: Connection): void {
    connection.send({ type: 'welcome', doc: connection.params.docId, connection_id: connection.id });
  }

  /** The reply (`joined`, with the stream's position), then what was missed since `since`, then live cursors. */
  @SubscribeMessage('join')
  async join(
    @ConnectedSocket() connection: Connection,
    @MessageBody(frameValidationPipe) frame: JoinFrameDto,
  ): Promise<void> {
    const doc = connection.params.docId;
    await this.topics.join(
      connection,
      topicOf(connection),
      (position) => ({ type: 'joined', doc, ...position }),
      frame.since,
    );
  }

  @SubscribeMessage('move')
  @UseGuards(EditorGuard)
  move(@ConnectedSocket() connection: Connection, @MessageBody(frameValidationPipe) frame: MoveFrameDto): object {
    if (!connection.topics.has(topicOf(connection))) throw RealtimeError.forbidden('Join the document first');
    const user = connection.principal?.sub ?? 'anonymous';
    this.cursors.publish(topicOf(connection), {
      type: 'cursor',
      doc: connection.params.docId,
      user,
      x: frame.x,
      y: frame.y,
    });
    return { type: 'moved', ...(frame.id !== undefined && { id: frame.id }) };
  }

  @SubscribeMessage('ping')
  @UseInterceptors(AnsweredByInterceptor)
  ping(): object {
    return { type: 'pong' };
  }
}
