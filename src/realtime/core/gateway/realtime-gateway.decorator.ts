import { applyDecorators, UseFilters } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import type { GatewayDefinition } from './gateway-definition.js';
import { RealtimeExceptionFilter } from './realtime-exception.filter.js';

/** The `@WebSocketGateway` metadata of a realtime gateway, read by `RealtimeWsAdapter`. */
export interface RealtimeGatewayOptions {
  /** Nest keys gateway servers by path; the real routes are `definition.paths`. */
  path: string;
  definition: GatewayDefinition;
}

/**
 * Declares a realtime gateway: served by `RealtimeWsAdapter` on `definition.paths`, within
 * `definition.limits`, its handlers' errors worded by its protocol.
 * @publicApi
 */
export function RealtimeGateway(definition: GatewayDefinition): ClassDecorator {
  const options: RealtimeGatewayOptions = { path: `/${definition.gateway}`, definition };
  return applyDecorators(WebSocketGateway(options), UseFilters(new RealtimeExceptionFilter()));
}
