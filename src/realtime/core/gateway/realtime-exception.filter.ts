import { Catch, Logger, type ArgumentsHost, type WsExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { Connection } from '../transport/connection.js';
import type { InboundFrame } from './gateway-definition.js';
import { RealtimeError } from './realtime-error.js';

const INTERNAL = new RealtimeError('internal', 'Internal server error');

/**
 * Maps whatever a gateway handler throws to that gateway's error frame; the connection stays
 * open. Unexpected errors are logged with their message only (no stack from client input).
 */
@Catch()
export class RealtimeExceptionFilter implements WsExceptionFilter {
  private readonly logger = new Logger('Realtime');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const connection = ws.getClient<Connection>();
    connection.sendError(this.toRealtimeError(exception), ws.getData<InboundFrame>());
  }

  private toRealtimeError(exception: unknown): RealtimeError {
    if (exception instanceof RealtimeError) return exception;
    if (exception instanceof WsException) return RealtimeError.badFrame(String(exception.message));
    this.logger.error(`Unhandled gateway error: ${(exception as Error)?.message ?? String(exception)}`);
    return INTERNAL;
  }
}
