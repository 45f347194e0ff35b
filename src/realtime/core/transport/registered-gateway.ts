import type { ConnectionLimits, GatewayDefinition } from '../gateway/gateway-definition.js';
import type { GatewayServer } from './gateway-server.js';

/** A gateway as the transport serves it: its server for Nest, its definition, its resolved limits. */
export interface RegisteredGateway {
  server: GatewayServer;
  definition: GatewayDefinition;
  limits: ConnectionLimits;
}
