import type { Provider, Type } from '@nestjs/common';
import type { GatewayName } from './gateway-name.js';

/**
 * What `POST /ws/publish` needs from a gateway that takes server events over REST: the body it
 * accepts (a class-validator DTO) and what publishing one does.
 */
export interface PublishTarget<Body extends object = object> {
  readonly gateway: GatewayName;
  readonly bodyType: Type<Body>;
  /** The body field that marks a body naming no `gateway` as this one's (chat: `room`). */
  readonly marker: string;
  /** Publishes a validated body; the result is the REST answer. */
  /** What the answer says, once the event is stored (`receiptFields`: stored with positions, or buffered). */
  publish(body: Body): Promise<Record<string, unknown>>;
}

/** The publish targets of every registered gateway, injected as an array. */
export const PUBLISH_TARGETS = Symbol('PUBLISH_TARGETS');

/**
 * A gateway as the module registers it, from its own folder: its providers (gateway, service,
 * publisher, config), what of them the host may inject, and its `POST /ws/publish` target.
 */
export interface RealtimeFeature {
  readonly providers: Provider[];
  /** REST endpoints of the gateway (e.g. notify's `POST /ws/send-message`). */
  readonly controllers?: Array<Type<unknown>>;
  readonly exports: Array<Type<unknown> | symbol>;
  readonly publishTarget?: Type<PublishTarget>;
}
