import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { RealtimeError, type RealtimeErrorKind } from '../core/gateway/index.js';

const STATUS: Record<RealtimeErrorKind, HttpStatus> = {
  bad_frame: HttpStatus.BAD_REQUEST,
  unknown_type: HttpStatus.BAD_REQUEST,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  not_found: HttpStatus.NOT_FOUND,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  capacity: HttpStatus.TOO_MANY_REQUESTS,
  internal: HttpStatus.INTERNAL_SERVER_ERROR,
};

/** The REST face of a `RealtimeError` a service throws: its kind's status, its message, as Nest words errors. */
@Catch(RealtimeError)
export class RealtimeHttpExceptionFilter implements ExceptionFilter<RealtimeError> {
  catch(error: RealtimeError, host: ArgumentsHost): void {
    const status = STATUS[error.kind];
    const response = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>();
    response.status(status).json({ statusCode: status, message: [error.message], error: error.kind });
  }
}
