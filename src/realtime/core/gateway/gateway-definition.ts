import type { PositionStyle } from '../../bus/stream-position.js';
import type { GatewayContract, MessageContract } from '../contract/gateway-contract.js';
import type { GatewayName } from './gateway-name.js';
import { CloseCode, type RealtimeError } from './realtime-error.js';

export type InboundFrame = Record<string, unknown>;

/** How a refused connection is told and closed, in a gateway's own words. */
export interface Refusal {
  frame: object;
  code: number;
  reason: string;
}

/** Connections a gateway admits; `undefined` means unlimited. */
export interface ConnectionLimits {
  perUser?: number;
  perIp?: number;
  total?: number;
}

/**
 * What a gateway tells the shared transport about its wire format. The transport does the
 * mechanics (limits, parsing, rate limiting, error delivery); the protocol only words them.
 */
export interface GatewayProtocol {
  readonly gateway: GatewayName;
  /** Whether a connection without a token is let in (to authenticate later). */
  readonly allowsAnonymous?: boolean;
  /**
   * Before a connection has a principal, frames larger than this are refused unparsed, with the
   * `Authentication required` error (SPEC.md §5): only a small `authenticate` frame is worth reading.
   */
  readonly unauthenticatedFrameLimit?: number;
  /**
   * Every request is answered (RPC): a frame dropped by a rate limit gets its own rate-limit error,
   * with its id, instead of one notice a second (SPEC.md §5, §10).
   */
  readonly answersEveryRequest?: boolean;
  /** The handler key of a parsed frame (`type`, `method`, …), or undefined when absent. */
  messageKey(frame: InboundFrame): string | undefined;
  /** The error frame for `error`, answering `frame` when there is one. */
  errorFrame(error: RealtimeError, frame?: InboundFrame): object;
  /** The frame and close code for a connection refused at the door (bad token, over a limit). */
  refusal(error: RealtimeError): Refusal;
  /** An app-level ping sent on every heartbeat, besides the protocol-level one (seeds 001, 002). */
  heartbeat?(): object;
  /** Only frames prove the client alive (seed 002's heartbeat): protocol-level pongs do not. */
  readonly livenessByFrames?: boolean;
  /**
   * How it words a token refresh on a live connection and the notice before expiry (SPEC.md §2);
   * `DEFAULT_TOKEN_REFRESH` (`{type:"refresh", token}`) when absent.
   */
  readonly tokenRefresh?: TokenRefreshFrames;
  /**
   * How its events carry positions (SPEC.md §11): `flat` (the default) when each event belongs to one
   * stream, `map` when one event belongs to several (a scheduler event to its experiment, task, project).
   */
  readonly positionStyle?: PositionStyle;
}

/**
 * A protocol's refresh frames. A gateway with no handler of its own for `messageKey` gets the
 * module's, which reads `token(frame)`, answers `refreshed(…)` or the protocol's error frame; a
 * gateway with its own handler (checkpoint `authenticate`) calls `RealtimeTransport.refresh` itself.
 */
export interface TokenRefreshFrames {
  readonly messageKey: string;
  token(frame: InboundFrame): unknown;
  /** The answer to a refresh; `expiresAt` in epoch milliseconds, undefined when the new identity has no expiry. */
  refreshed(expiresAt: number | undefined, frame: InboundFrame): object;
  /** Sent some seconds before the token expires, so that a client without its own timer refreshes in time. */
  expiring(expiresAt: number, secondsLeft: number): object;
  /** Their schemas, for the AsyncAPI document; `request`/`refreshed` absent when an existing frame is used. */
  readonly contract: { request?: MessageContract; refreshed?: MessageContract; expiring: MessageContract };
}

/** The message key of a gateway handler that takes every frame no other handler has a key for. */
export const FALLBACK_HANDLER = '*';

/** SPEC.md's close code for a refused connection: 4401 unauthenticated, 4403 forbidden, 1011 an authenticator error, else 4429. */
export function refusalCode(error: RealtimeError): number {
  if (error.kind === 'unauthenticated') return CloseCode.UNAUTHENTICATED;
  if (error.kind === 'unavailable' || error.kind === 'internal') return CloseCode.INTERNAL_ERROR;
  return error.kind === 'forbidden' ? CloseCode.FORBIDDEN : CloseCode.TOO_MANY_CONNECTIONS;
}

/** A refusal told with the protocol's own error frame, closed with SPEC.md's code. */
export function standardRefusal(errorFrame: (error: RealtimeError) => object): (error: RealtimeError) => Refusal {
  return (error) => ({ frame: errorFrame(error), code: refusalCode(error), reason: error.message });
}

/**
 * A gateway as it describes itself, in its own folder, to `@RealtimeGateway(definition)`: its
 * protocol, the upgrade paths it serves and its connection limits. The transport derives route
 * precedence from the paths of every registered gateway; nothing central lists them.
 */
export interface GatewayDefinition extends GatewayProtocol {
  /** Upgrade paths; `:name` segments are captured as path parameters. Fixed segments win over parameters. */
  readonly paths: readonly string[];
  /** Regular expressions (sources, without anchors) that constrain path parameters by name. */
  readonly paramPatterns?: Readonly<Record<string, string>>;
  /** The path parameter that names the connection (its id in the registry and admin views). */
  readonly connectionIdParam?: string;
  /** Its frames, each with a JSON Schema: the AsyncAPI document and the e2e suites' frame checks read it. */
  readonly contract?: GatewayContract;
  /** The gateway's connection limits, read from its own section of the module options; none when absent. */
  limits?(options: object): ConnectionLimits;
}
