import { Injectable, type OnModuleDestroy } from '@nestjs/common';

const WINDOW_SECONDS = 10;

/** Instance-wide message totals, and messages per second over the last ten seconds. */
@Injectable()
export class TrafficStats implements OnModuleDestroy {
  readonly startedAt = Date.now();
  messagesIn = 0;
  messagesOut = 0;
  private readonly samples: number[] = [];
  private readonly sampler = setInterval(() => this.sample(), 1000).unref();

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

  private sample(): void {
    this.samples.push(this.messagesIn + this.messagesOut);
    if (this.samples.length > WINDOW_SECONDS + 1) this.samples.shift();
  }
}
