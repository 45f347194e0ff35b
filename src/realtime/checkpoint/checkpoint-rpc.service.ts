import { Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { Authentication, type Principal } from '../core/auth/index.js';
import { RealtimeError } from '../core/gateway/index.js';
import { REALTIME_MODULE_OPTIONS } from '../core/gateway/index.js';
import type { StreamPosition } from '../bus/index.js';
import { ConnectionRegistry, Fanout, positionFields, TopicLimit, type ReplyThen } from '../core/registry/index.js';
import { RealtimeTransport, type Connection } from '../core/transport/index.js';
import { sessionTopic } from './checkpoint-events.js';
import { STATIC_TOKEN_PRINCIPAL } from './checkpoint-owner.js';
import { resolveCheckpointConfig, type CheckpointOptions } from './checkpoint.options.js';
import { CheckpointService } from './checkpoint.service.js';

const INVALID_TOKEN = new RealtimeError('unauthenticated', 'Invalid authentication token');

/** A refresh refused for its token is answered in seed 003's words; an authenticator error as itself. */
function refusedAs(error: unknown): never {
  throw error instanceof RealtimeError && error.kind === 'unauthenticated' ? INVALID_TOKEN : error;
}

/**
 * The connection side of the checkpoint RPC: who is authenticated (a JWT at the upgrade or through
 * `authenticate`, or the static token: every authenticated connection has a principal; the
 * transport gives the others 10 s), session subscriptions and the request counters of `metrics`.
 */
@Injectable()
export class CheckpointRpc {
  private readonly staticToken?: Buffer;
  private served = 0;

  constructor(
    private readonly checkpoints: CheckpointService,
    private readonly registry: ConnectionRegistry,
    private readonly authentication: Authentication,
    private readonly transport: RealtimeTransport,
    private readonly topicLimit: TopicLimit,
    private readonly fanout: Fanout,
    @Inject(REALTIME_MODULE_OPTIONS) options: { checkpoint?: CheckpointOptions },
  ) {
    const { authToken } = resolveCheckpointConfig(options);
    this.staticToken = authToken === undefined ? undefined : Buffer.from(authToken);
  }

  isAuthenticated(connection: Connection): boolean {
    return connection.principal !== undefined;
  }

  /** Counts one request answered by a method (for `metrics`). */
  countRequest(): void {
    this.served++;
  }

  /**
   * The static token (its own principal, SPEC.md §5), or a credential the authenticator accepts
   * (a JWT by default). A failure leaves the connection as it was (SPEC.md §10); so does a full
   * gateway, which the transport refuses in its own words. On an authenticated connection it is
   * a refresh: the same subject, a new expiry.
   */
  async authenticate(connection: Connection, token: unknown): Promise<{ authenticated: true }> {
    if (typeof token !== 'string' || token === '') throw INVALID_TOKEN;
    const isStatic = this.isStaticToken(token);
    if (connection.principal) {
      // The static token names no one: it leaves an authenticated connection as it is.
      if (!isStatic) await this.transport.refresh(connection, token).catch(refusedAs);
      return { authenticated: true };
    }
    const principal = isStatic ? STATIC_TOKEN_PRINCIPAL : await this.verified(connection, token);
    const refused = this.transport.authenticated(connection, principal);
    if (refused) throw refused;
    return { authenticated: true };
  }

  private async verified(connection: Connection, token: string): Promise<Principal> {
    const outcome = await this.authentication.authenticate({
      source: 'rpc',
      headers: {},
      ip: connection.ip,
      path: '',
      query: new URLSearchParams(),
      token,
    });
    if (outcome.error) throw outcome.error.kind === 'unauthenticated' ? INVALID_TOKEN : outcome.error;
    return outcome.principal;
  }

  /** Who the requests of an authenticated connection act for. */
  principal(connection: Connection): Principal {
    return connection.requirePrincipal();
  }

  /**
   * Subscribes to the events of a session the connection's principal may use (else `Session not
   * found`), resuming after `since` when given; `release()` sends the missed ones.
   */
  async subscribe(
    connection: Connection,
    sessionId: string,
    since?: StreamPosition,
  ): Promise<ReplyThen<Record<string, unknown>>> {
    await this.checkpoints.access(sessionId, this.principal(connection));
    const topic = sessionTopic(sessionId);
    this.topicLimit.check(connection, topic, 'Too many subscriptions');
    const joined = await this.fanout.join(connection, topic, since);
    return { reply: { subscribed: true, session_id: sessionId, ...positionFields(joined) }, release: joined.release };
  }

  unsubscribe(connection: Connection, sessionId: string): { unsubscribed: true; session_id: string } {
    this.registry.leave(connection, sessionTopic(sessionId));
    return { unsubscribed: true, session_id: sessionId };
  }

  async metrics(): Promise<Record<string, number>> {
    const connections = this.registry.list({ gateway: 'checkpoint' });
    const totals = await this.checkpoints.totals();
    return {
      sessions: totals.sessions,
      checkpoints: totals.checkpoints,
      subscriptions: connections.reduce((sum, connection) => sum + connection.topics.size, 0),
      connections: connections.length,
      requests_served: this.served,
    };
  }

  private isStaticToken(token: string): boolean {
    if (!this.staticToken) return false;
    const candidate = Buffer.from(token);
    return candidate.length === this.staticToken.length && timingSafeEqual(candidate, this.staticToken);
  }
}
