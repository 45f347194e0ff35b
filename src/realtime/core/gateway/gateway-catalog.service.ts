import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { StreamStyles } from '../../bus/stream-styles.js';
import type { GatewayDefinition } from './gateway-definition.js';
import { GATEWAY_NAME_FORMAT, type GatewayName } from './gateway-name.js';
import { RealtimeError } from './realtime-error.js';
import { definitionOf } from './realtime-gateway.decorator.js';

/**
 * The gateways of this application, as each registered itself with `@RealtimeGateway(definition)`,
 * in any module: the built-in four and a host's own alike. Admin views, metrics, the dashboard and
 * the bus read the list from here; nothing else names a gateway.
 * @publicApi
 */
@Injectable()
export class GatewayCatalog {
  private readonly byName = new Map<GatewayName, GatewayDefinition>();

  constructor(discovery: DiscoveryService, styles: StreamStyles) {
    for (const wrapper of discovery.getProviders()) {
      const definition = definitionOf(wrapper.metatype);
      if (!definition) continue;
      this.add(definition);
      styles.set(definition.gateway, definition.positionStyle ?? 'flat');
    }
  }

  /** Registered gateway names, in registration order. */
  get names(): GatewayName[] {
    return [...this.byName.keys()];
  }

  get definitions(): GatewayDefinition[] {
    return [...this.byName.values()];
  }

  get(gateway: GatewayName): GatewayDefinition | undefined {
    return this.byName.get(gateway);
  }

  /** `gateway` when registered; otherwise a 400-style `RealtimeError` listing the registered ones. */
  require(gateway: string): GatewayName {
    if (this.byName.has(gateway)) return gateway;
    throw RealtimeError.invalid([`gateway must be one of: ${this.names.join(', ')}`]);
  }

  private add(definition: GatewayDefinition): void {
    const { gateway } = definition;
    if (!GATEWAY_NAME_FORMAT.test(gateway)) {
      throw new Error(`Gateway name "${gateway}" must match ${String(GATEWAY_NAME_FORMAT)}`);
    }
    const known = this.byName.get(gateway);
    if (known && known !== definition) throw new Error(`Two gateways are named "${gateway}"`);
    this.byName.set(gateway, definition);
  }
}
