import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { GatewayName } from '../gateway/gateway-name.js';
import { GatewayTraffic } from './gateway-traffic.js';

const WINDOW_SECONDS = 10;

/** This instance's traffic per gateway, totals, and messages per second over the last ten seconds. */
@Injectable()
export class TrafficStats implements OnModuleDestroy {
  readonly startedAt = Date.now();
  private readonly gateways = new Map<GatewayName, GatewayTraffic>();
  private readonly samples: number[] = [];
  private readonly sampler = setInterval(() => this.sample(), 1000).unref();

  /** The gateway's counters, from its first use on (zero until then). */
  of(gateway: GatewayName): GatewayTraffic {
    let traffic = this.gateways.get(gateway);
    if (!traffic) this.gateways.set(gateway, (traffic = new GatewayTraffic()));
    return traffic;
  }

  get messagesIn(): number {
    return this.sum((traffic) => traffic.messagesIn);
  }

  get messagesOut(): number {
    return this.sum((traffic) => traffic.messagesOut);
  }

  get uptimeSeconds(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }

  /** Messages in and out per second, averaged over the sampled window. */
  get messagesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const span = this.samples.length - 1;
    return Math.round(((this.samples[span] - this.samples[0]) / span) * 100) / 100;
  }

  onModuleDestroy(): void {
    clearInterval(this.sampler);
  }

  private sum(count: (traffic: GatewayTraffic) => number): number {
    let total = 0;
    for (const traffic of this.gateways.values()) total += count(traffic);
    return total;
  }

  private sample(): void {
    this.samples.push(this.messagesIn + this.messagesOut);
    if (this.samples.length > WINDOW_SECONDS + 1) this.samples.shift();
  }
}
