import type { LifecycleLog } from './lifecycle-log.js';

type Fields = Record<string, string | number | boolean | undefined>;

const WINDOW_MS = 1000;

/**
 * Security refusals and rate limits, summarized (SPEC.md §10.1): at most one line per client
 * address (or user) and kind of event per second; events within the second are counted and reported with the next
 * line (or when the second ends).
 */
export class RefusalLog {
  private readonly windows = new Map<string, { since: number; suppressed: number; event: string; identity: Fields }>();
  private readonly sweeper = setInterval(() => this.flush(Date.now()), WINDOW_MS).unref();

  constructor(private readonly log: LifecycleLog) {}

  /** One line per address and kind of refusal per second: another kind's flood does not hide this one. */
  refused(event: string, ip: string | undefined, fields: Fields): void {
    this.summarized(event, `${event} ${ip ?? 'unknown'}`, { ...fields, ip }, { ip });
  }

  /**
   * One line per `key` per second for `event`; the rest of the second is counted, and reported
   * under `identity` (who it was) when the second ends.
   */
  summarized(event: string, key: string, fields: Fields, identity: Fields): void {
    const now = Date.now();
    const window = this.windows.get(key);
    if (window && now - window.since < WINDOW_MS) {
      window.suppressed++;
      return;
    }
    this.windows.set(key, { since: now, suppressed: 0, event, identity });
    this.log.security(event, { ...fields, also_refused: window?.suppressed || undefined });
  }

  close(): void {
    clearInterval(this.sweeper);
    this.flush(Number.POSITIVE_INFINITY);
  }

  /** Reports what the ended windows held back, and forgets them: memory stays bounded. */
  private flush(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.since < WINDOW_MS) continue;
      this.windows.delete(key);
      if (window.suppressed > 0) {
        this.log.security(`${window.event}_summary`, { ...window.identity, also_refused: window.suppressed });
      }
    }
  }
}
