import { Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { TokenVerifier } from '../core/auth/index.js';
import { CloseCode, RealtimeError } from '../core/gateway/index.js';
import { REALTIME_MODULE_OPTIONS } from '../realtime.module-definition.js';
import type { StreamPosition } from '../bus/index.js';
import { ConnectionRegistry, Fanout, positionFields, TopicLimit, type ReplyThen } from '../core/registry/index.js';
import { RealtimeTransport, type Connection } from '../core/transport/index.js';
import { sessionTopic } from './checkpoint-events.js';
import { AUTHENTICATION_DEADLINE_MS, resolveCheckpointConfig, type CheckpointOptions } from './checkpoint.options.js';
import { CheckpointService } from './checkpoint.service.js';

const INVALID_TOKEN = new RealtimeError('unauthenticated', 'Invalid authentication token');
const SESSION_NOT_FOUND = new RealtimeError('not_found', 'Session not found');

/**
 * The connection side of the checkpoint RPC: who is authenticated (a JWT at the upgrade or through
 * `authenticate`, or the static token), the 10 s deadline for those who are not, session
 * subscriptions and the request counters of `metrics`.
 */
@Injectable()
export class CheckpointRpc {
  private readonly authenticatedConnections = new WeakSet<Connection>();
  private readonly deadlines = new WeakMap<Connection, NodeJS.Timeout>();
  private readonly staticToken?: Buffer;
  private served = 0;

  constructor(
    private readonly checkpoints: CheckpointService,
    private readonly registry: ConnectionRegistry,
    private readonly verifier: TokenVerifier,
    private readonly transport: RealtimeTransport,
    private readonly topicLimit: TopicLimit,
    private readonly fanout: Fanout,
    @Inject(REALTIME_MODULE_OPTIONS) options: { checkpoint?: CheckpointOptions },
  ) {
    const { authToken } = resolveCheckpointConfig(options);
    this.staticToken = authToken === undefined ? undefined : Buffer.from(authToken);
  }

  /** A connection with a token is in; one without has 10 s to `authenticate`. */
  connect(connection: Connection): void {
    if (connection.principal) {
      this.authenticatedConnections.add(connection);
      return;
    }
    const deadline = setTimeout(
      () => connection.close(CloseCode.UNAUTHENTICATED, 'Authentication required'),
      AUTHENTICATION_DEADLINE_MS,
    );
    this.deadlines.set(connection, deadline.unref());
  }

  disconnect(connection: Connection): void {
    clearTimeout(this.deadlines.get(connection));
  }

  isAuthenticated(connection: Connection): boolean {
    return this.authenticatedConnections.has(connection);
  }

  /** Counts one request answered by a method (for `metrics`). */
  countRequest(): void {
    this.served++;
  }

  /** A JWT or the static token; a failure leaves the connection as it was (SPEC.md §10). */
  authenticate(connection: Connection, token: unknown): { authenticated: true } {
    if (typeof token !== 'string' || token === '') throw INVALID_TOKEN;
    if (!this.isStaticToken(token)) {
      const principal = this.verifier.verify(token);
      if (!principal) throw INVALID_TOKEN;
      this.transport.authenticated(connection, principal);
    }
    this.authenticatedConnections.add(connection);
    clearTimeout(this.deadlines.get(connection));
    return { authenticated: true };
  }

  /** Subscribes to a session's events, resuming after `since` when given; `release()` sends the missed ones. */
  async subscribe(
    connection: Connection,
    sessionId: string,
    since?: StreamPosition,
  ): Promise<ReplyThen<Record<string, unknown>>> {
    if (!(await this.checkpoints.hasSession(sessionId))) throw SESSION_NOT_FOUND;
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
