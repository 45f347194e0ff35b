import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { RealtimeError, type RealtimeErrorKind } from '../core/gateway/index.js';

const STATUS: Record<RealtimeErrorKind, HttpStatus> = {
  bad_frame: HttpStatus.BAD_REQUEST,
  unknown_type: HttpStatus.BAD_REQUEST,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  not_found: HttpStatus.NOT_FOUND,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  capacity: HttpStatus.TOO_MANY_REQUESTS,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
  internal: HttpStatus.INTERNAL_SERVER_ERROR,
};

interface JsonResponse {
  headersSent: boolean;
  status(code: number): { json(body: unknown): void };
}

/**
 * The REST face of every failure on the module's routes, in one shape:
 * `{"statusCode": N, "error": "<reason phrase>", "message": ["reason", …]}`.
 * A `RealtimeError` gets its kind's status; an `HttpException` from Nest itself keeps its own; anything
 * else is a 500 whose details stay in the log, never in the response.
 */
@Catch()
export class RealtimeHttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('RealtimeHttp');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<JsonResponse>();
    if (response.headersSent) return;
    const [status, reasons] = this.describe(error);
    response.status(status).json(errorBody(status, reasons));
  }

  private describe(error: unknown): [number, readonly string[]] {
    if (error instanceof RealtimeError) return [STATUS[error.kind], error.reasons];
    if (error instanceof HttpException) return [error.getStatus(), reasonsOf(error)];
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return [HttpStatus.INTERNAL_SERVER_ERROR, ['Internal server error']];
  }
}

/** The body of every failure: `{statusCode, error: <reason phrase>, message: reasons}`. */
export function errorBody(status: number, reasons: readonly string[]): object {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: reasons };
}

/** The status and body a `RealtimeError` is answered with on REST. */
export function httpFailure(error: RealtimeError): { status: number; body: object } {
  const status = STATUS[error.kind];
  return { status, body: errorBody(status, error.reasons) };
}

function reasonsOf(error: HttpException): string[] {
  const body = error.getResponse();
  const message = typeof body === 'object' && body !== null && 'message' in body ? body.message : body;
  return (Array.isArray(message) ? message : [message]).map(String);
}
