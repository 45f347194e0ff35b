import { Injectable } from '@nestjs/common';
import type { GatewayName } from './event-bus.js';
import type { PositionStyle } from './stream-position.js';

/**
 * How each gateway's events carry positions, as the gateways registered themselves: `flat` (one
 * stream per event) unless a gateway says `map` (an event belongs to several streams, as a scheduler
 * event belongs to its experiment, task and project). The bus reads it; it names no gateway itself.
 */
@Injectable()
export class StreamStyles {
  private readonly styles = new Map<GatewayName, PositionStyle>();

  set(gateway: GatewayName, style: PositionStyle): void {
    this.styles.set(gateway, style);
  }

  of(gateway: GatewayName): PositionStyle {
    return this.styles.get(gateway) ?? 'flat';
  }
}
