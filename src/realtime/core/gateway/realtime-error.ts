/** What went wrong, independent of how a gateway's protocol words it. */
export type RealtimeErrorKind =
  | 'bad_frame'
  | 'unknown_type'
  | 'forbidden'
  | 'rate_limited'
  | 'unauthenticated'
  | 'capacity'
  | 'not_found'
  | 'unavailable'
  | 'internal';

/**
 * A typed failure raised by services and the transport; each gateway's protocol maps it to
 * its own error frame in one place (`GatewayProtocol.errorFrame`).
 *
 * The error convention of the module:
 * - Hot paths (the inbound pipeline, the parser, admission) *return* a `RealtimeError` (or a
 *   `RefusedFrame` carrying one) instead of throwing, so that a refusal costs no stack trace.
 * - Handlers, controllers, guards and services *throw* it; `RealtimeExceptionFilter` sends it in the
 *   gateway's words (`GatewayProtocol.errorFrame`, with the request's id when it has one), and on the
 *   REST side `RealtimeHttpExceptionFilter` (applied by `@RealtimeController`) maps its `kind` to an
 *   HTTP status, in one body shape for every route (`{statusCode, error, message: reasons}`).
 * - Misconfiguration found while the module starts throws a plain `Error`: it stops the boot and is
 *   no client's failure, so no protocol words it.
 * - Wording lives with the protocol (each `*.definition.ts`) or, for a gateway's own errors, in one
 *   constants file beside its service (e.g. `checkpoint-errors.ts`).
 * - A rejection is swallowed only with a comment saying why, and only where something else already
 *   reports it (a connector's error listener, a counter, a log line).
 */
export class RealtimeError extends Error {
  /** Every reason, when there are several (a REST body's failed validations); else the message alone. */
  readonly reasons: readonly string[];

  constructor(
    readonly kind: RealtimeErrorKind,
    message: string,
    reasons?: readonly string[],
  ) {
    super(message);
    this.name = 'RealtimeError';
    this.reasons = reasons ?? [message];
  }

  /** A request that does not have the required shape, with each reason it fails. */
  static invalid(reasons: readonly string[]): RealtimeError {
    return new RealtimeError('bad_frame', reasons.join('; '), reasons);
  }

  static notFound(message: string): RealtimeError {
    return new RealtimeError('not_found', message);
  }

  static badFrame(message: string): RealtimeError {
    return new RealtimeError('bad_frame', message);
  }

  static forbidden(message = 'Forbidden'): RealtimeError {
    return new RealtimeError('forbidden', message);
  }
}

export const RATE_LIMITED = new RealtimeError('rate_limited', 'Rate limit exceeded');
export const AUTH_REQUIRED = new RealtimeError('unauthenticated', 'Authentication required');
export const INVALID_TOKEN = new RealtimeError('unauthenticated', 'Invalid or expired token');
/** A refresh whose token names someone else: refused, and the connection keeps its old expiry. */
export const SUBJECT_MISMATCH = new RealtimeError('unauthenticated', 'Token subject does not match the connection');
export const TOO_MANY_CONNECTIONS = new RealtimeError('capacity', 'Too many connections');

/** Close codes shared by every gateway (RFC 6455 and the 4xxx range of SPEC.md). */
export const CloseCode = {
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  ADMIN_DISCONNECT: 4000,
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  REPLACED: 4409,
  TOO_MANY_CONNECTIONS: 4429,
} as const;
