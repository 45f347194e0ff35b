import type { RealtimeErrorKind } from '../gateway/realtime-error.js';

/**
 * One gateway's counters on this instance. Each connection holds its gateway's object and bumps
 * plain numbers on it, so counting costs no allocation on any path; `/metrics` reads them at scrape.
 */
export class GatewayTraffic {
  messagesIn = 0;
  messagesOut = 0;
  /** Inbound frames dropped by the rate limit. */
  rateLimited = 0;
  /** Sockets closed 1013 for an outbound backlog over the limits. */
  slowConsumerCloses = 0;
  authFailures = 0;
  /** Error frames sent, by kind. */
  readonly errors: Record<RealtimeErrorKind, number> = {
    bad_frame: 0,
    unknown_type: 0,
    forbidden: 0,
    rate_limited: 0,
    unauthenticated: 0,
    capacity: 0,
    not_found: 0,
    unavailable: 0,
    internal: 0,
  };
  /** Connections closed, by close code. */
  readonly closeCodes = new Map<number, number>();

  closed(code: number): void {
    this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
  }
}
