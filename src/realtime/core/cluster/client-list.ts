import { describeConnection } from '../registry/client-descriptor.js';
import type { ConnectionRegistry } from '../registry/connection-registry.service.js';

/** The shortest wait between a change and the list's publish. */
const DEBOUNCE_MS = 50;
/** The publish waits this many times what building the list last cost. */
const COST_SHARE = 50;

/**
 * This instance's client list as the admin views of every instance read it (JSON of its client
 * descriptors, SPEC.md §9): built on demand, and published a while after a change (`schedule`):
 * `DEBOUNCE_MS`, or longer when the list is large, so that building it costs at most 1/`COST_SHARE`
 * of the time (a storm of thousands of connects would otherwise build the whole list every 50 ms),
 * never more than `maxDelayMs`.
 */
export class ClientList {
  private timer?: NodeJS.Timeout;
  /** What building the list took last time (ms). */
  private costMs = 0;
  private stopped = false;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly instanceId: string,
    private readonly maxDelayMs: number,
  ) {}

  /** The list now, as JSON. */
  json(): string {
    const started = performance.now();
    const json = JSON.stringify(
      this.registry.list().map((connection) => describeConnection(connection, this.instanceId)),
    );
    this.costMs = performance.now() - started;
    return json;
  }

  /** Calls `publish` with the list once the wait after this change is over (one call for many changes). */
  schedule(publish: (json: string) => void): void {
    if (this.stopped || this.timer) return;
    const delay = Math.min(Math.max(DEBOUNCE_MS, this.costMs * COST_SHARE), this.maxDelayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) publish(this.json());
    }, delay);
  }

  /** No publish from now on. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
