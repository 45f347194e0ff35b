import { applyDecorators, SetMetadata, UseFilters } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import type { GatewayDefinition } from './gateway-definition.js';
import { RealtimeExceptionFilter } from './realtime-exception.filter.js';

/** The `@WebSocketGateway` metadata of a realtime gateway, read by `RealtimeWsAdapter`. */
export interface RealtimeGatewayOptions {
  /** Nest keys gateway servers by path; the real routes are `definition.paths`. */
  path: string;
  definition: GatewayDefinition;
}

const REALTIME_GATEWAY = Symbol('REALTIME_GATEWAY');

/**
 * Declares a realtime gateway, in the module of whoever owns it (the built-in gateways and a host's
 * own alike): served by `RealtimeWsAdapter` on `definition.paths`, within `definition.limits`, its
 * handlers' errors worded by its protocol, listed by `GatewayCatalog`.
 * @publicApi
 */
export function RealtimeGateway(definition: GatewayDefinition): ClassDecorator {
  const options: RealtimeGatewayOptions = { path: `/${definition.gateway}`, definition };
  return applyDecorators(
    WebSocketGateway(options),
    UseFilters(new RealtimeExceptionFilter()),
    SetMetadata(REALTIME_GATEWAY, definition),
  );
}

/** The definition a class was declared with by `@RealtimeGateway`, if any. */
export function definitionOf(type: unknown): GatewayDefinition | undefined {
  if (typeof type !== 'function') return undefined;
  return Reflect.getMetadata(REALTIME_GATEWAY, type) as GatewayDefinition | undefined;
}
