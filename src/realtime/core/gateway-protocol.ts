import type { RealtimeError } from './realtime-error.js';

export type GatewayName = 'chat' | 'scheduler' | 'checkpoint' | 'notify';

export type InboundFrame = Record<string, unknown>;

/** How a refused connection is told and closed, in a gateway's own words. */
export interface Refusal {
  frame: object;
  code: number;
  reason: string;
}

/**
 * What a gateway tells the shared transport about its wire format. The transport does the
 * mechanics (limits, parsing, rate limiting, error delivery); the protocol only words them.
 */
export interface GatewayProtocol {
  readonly gateway: GatewayName;
  /** Whether a connection without a token is let in (to authenticate later). */
  readonly allowsAnonymous?: boolean;
  /** The handler key of a parsed frame (`type`, `method`, …), or undefined when absent. */
  messageKey(frame: InboundFrame): string | undefined;
  /** The error frame for `error`, answering `frame` when there is one. */
  errorFrame(error: RealtimeError, frame?: InboundFrame): object;
  /** The frame and close code for a connection refused at the door. */
  refusal(error: RealtimeError): Refusal;
}
