import { applyDecorators, UseFilters } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import type { GatewayProtocol } from './gateway-protocol.js';
import { RealtimeExceptionFilter } from './realtime-exception.filter.js';
import type { RealtimeGatewayOptions } from './realtime-ws.adapter.js';

/** Declares a realtime gateway: served by `RealtimeWsAdapter`, errors mapped by its protocol. */
export function RealtimeGateway(protocol: GatewayProtocol): ClassDecorator {
  const options: RealtimeGatewayOptions = { path: `/${protocol.gateway}`, protocol };
  return applyDecorators(WebSocketGateway(options), UseFilters(new RealtimeExceptionFilter()));
}
