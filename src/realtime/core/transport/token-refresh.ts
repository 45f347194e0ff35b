import type { Authentication } from '../auth/authentication.service.js';
import type { Principal } from '../auth/principal.js';
import { DEFAULT_TOKEN_REFRESH } from '../gateway/token-refresh-frames.js';
import type { InboundFrame } from '../gateway/gateway-definition.js';
import { AUTH_REQUIRED, INVALID_TOKEN, RealtimeError, SUBJECT_MISMATCH } from '../gateway/realtime-error.js';
import type { RefusalLog } from '../logging/refusal-log.js';
import type { Connection } from './connection.js';
import type { ConnectionLifecycle } from './connection-lifecycle.js';
import type { FrameHandler } from './inbound-pipeline.js';

const NO_HEADERS = Object.freeze({});

/**
 * A new token on a live connection (SPEC.md §2 as issue 24 extends it): checked by the
 * authenticator like an upgrade's, it must name the same `sub`; the connection then keeps its
 * place with the new expiry. A refusal leaves the old expiry standing. Refresh frames go through
 * the inbound pipeline like every frame, so its rate limits bound them.
 */
export class TokenRefresh {
  constructor(
    private readonly authentication: Authentication,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly refusals: RefusalLog,
  ) {}

  /** The new principal, or throws the reason it was refused (`RealtimeError`). */
  async refresh(connection: Connection, token: unknown): Promise<Principal> {
    const current = connection.principal;
    if (!current) throw AUTH_REQUIRED;
    if (typeof token !== 'string' || token === '') return this.refused(connection, INVALID_TOKEN);
    const outcome = await this.authentication.authenticate({
      source: 'refresh',
      headers: NO_HEADERS,
      ip: connection.ip,
      path: '',
      query: new URLSearchParams(),
      token,
    });
    if (outcome.error) return this.refused(connection, outcome.error);
    if (outcome.principal.sub !== current.sub) return this.refused(connection, SUBJECT_MISMATCH);
    this.lifecycle.refreshed(connection, outcome.principal);
    return outcome.principal;
  }

  /**
   * The module's refresh handler for a gateway without its own: the protocol's refresh frame in,
   * its `refreshed` answer or its error frame out.
   */
  handler(connection: Connection): FrameHandler {
    const wording = connection.protocol.tokenRefresh ?? DEFAULT_TOKEN_REFRESH;
    return (frame: InboundFrame) =>
      this.refresh(connection, wording.token(frame)).then(
        (principal) => wording.refreshed(principal.exp === undefined ? undefined : principal.exp * 1000, frame),
        (error: unknown) => {
          if (!(error instanceof RealtimeError)) throw error;
          connection.sendError(error, frame);
          return undefined;
        },
      );
  }

  private refused(connection: Connection, error: RealtimeError): never {
    this.refusals.refused('refresh_refused', connection.ip, {
      gateway: connection.gateway,
      user: connection.principal?.sub,
      reason: error.message,
    });
    throw error;
  }
}
