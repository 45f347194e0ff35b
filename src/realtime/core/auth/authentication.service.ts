import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { AUTH_REQUIRED, INVALID_TOKEN, RealtimeError } from '../gateway/realtime-error.js';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { RefusalLog } from '../logging/refusal-log.js';
import {
  REALTIME_AUTHENTICATOR,
  type AuthenticatedUser,
  type AuthenticationRequest,
  type AuthenticationSource,
  type RealtimeAuthenticator,
} from './authenticator.js';
import { JwtAuthenticator } from './jwt-authenticator.js';
import { principalOf, type Principal } from './principal.js';

/** An authentication's outcome: a principal, or why not (`unauthenticated`, or `internal` for an authenticator error). */
export type AuthOutcome = { principal: Principal; error?: undefined } | { principal?: undefined; error: RealtimeError };

/** Outcomes by result, for `/metrics`. */
export type AuthResult = 'ok' | 'refused' | 'error' | 'timeout';

/** The authenticator failed, threw, took too long or answered something that is not a user. */
export const AUTH_UNAVAILABLE = new RealtimeError('unavailable', 'Authentication unavailable');

const ok = (principal: Principal): AuthOutcome => ({ principal });

/**
 * Runs the authenticator (the host's, or the JWT default) for every door: upgrades, the admin API,
 * connect tickets, refreshes and the checkpoint `authenticate`. It bounds it (a timeout, a thrown
 * error, a malformed user: an error outcome, logged without the credential), and counts outcomes.
 * A synchronous answer stays synchronous: the default JWT path costs no promise and no timer.
 */
@Injectable()
export class Authentication implements OnApplicationShutdown {
  readonly counters = new Map<string, number>();
  /** Failures summarized per address and second: a client can make a host authenticator fail on purpose. */
  private readonly log = new RefusalLog(new LifecycleLog());
  private readonly timeoutMs: number;

  constructor(
    @Inject(REALTIME_AUTHENTICATOR) private readonly authenticator: RealtimeAuthenticator,
    private readonly jwt: JwtAuthenticator,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.timeoutMs = config.auth.timeoutMs;
  }

  authenticate(request: AuthenticationRequest): AuthOutcome | Promise<AuthOutcome> {
    let answer: ReturnType<RealtimeAuthenticator['authenticate']>;
    try {
      answer = this.ask(request);
    } catch (error) {
      return this.failed(request, 'error', nameOf(error));
    }
    if (!isPromiseLike(answer)) return this.decide(request, answer);
    return new Promise<AuthOutcome>((resolve) => {
      const timer = setTimeout(
        () => resolve(this.failed(request, 'timeout', `no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      answer.then(
        (user) => {
          clearTimeout(timer);
          resolve(this.decide(request, user));
        },
        (error: unknown) => {
          clearTimeout(timer);
          resolve(this.failed(request, 'error', nameOf(error)));
        },
      );
    });
  }

  /** The host authenticator's answer; `undefined` from it hands the request to the JWT check. */
  private ask(request: AuthenticationRequest): ReturnType<RealtimeAuthenticator['authenticate']> {
    const answer = this.authenticator.authenticate(request);
    if (this.authenticator === this.jwt) return answer;
    if (isPromiseLike(answer)) return Promise.resolve(answer).then((user) => user ?? this.fallback(request, user));
    return answer ?? this.fallback(request, answer);
  }

  private fallback(
    request: AuthenticationRequest,
    user: null | undefined,
  ): ReturnType<RealtimeAuthenticator['authenticate']> {
    return user === null ? null : this.jwt.authenticate(request);
  }

  private decide(request: AuthenticationRequest, user: AuthenticatedUser | null | undefined): AuthOutcome {
    if (user === undefined || user === null) {
      this.count(request.source, 'refused');
      return { error: request.token ? INVALID_TOKEN : AUTH_REQUIRED };
    }
    const principal = principalOf(user);
    if (!principal) return this.failed(request, 'error', 'the authenticator returned no valid sub');
    this.count(request.source, 'ok');
    return ok(principal);
  }

  onApplicationShutdown(): void {
    this.log.close();
  }

  private failed(request: AuthenticationRequest, result: 'error' | 'timeout', reason: string): AuthOutcome {
    this.count(request.source, result);
    this.log.refused('authenticator_failed', request.ip, { source: request.source, reason });
    return { error: AUTH_UNAVAILABLE };
  }

  private count(source: AuthenticationSource, result: AuthResult): void {
    const key = `${source} ${result}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** An error's name only: its message may quote the credential it failed on. */
function nameOf(error: unknown): string {
  return error instanceof Error ? `${error.name} thrown` : `${typeof error} thrown`;
}
