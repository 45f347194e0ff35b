interface Entry {
  frame: string;
  /** What the sender passed: how it takes the frame back (`withdraw`). */
  source: object;
  resolve(): void;
  reject(error: Error): void;
}

/** What the app sends while disconnected, sent in order on reconnect; over `limit`, the oldest fail. */
export class OfflineQueue {
  private readonly entries: Entry[] = [];

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.length;
  }

  /** Resolves once the frame is written to a socket; rejects when it is pushed out or the client closes. */
  push(frame: string, source: object): Promise<void> {
    return new Promise((resolve, reject) => {
      this.entries.push({ frame, source, resolve, reject });
      if (this.entries.length > this.limit) {
        this.entries.shift()!.reject(new Error(`Offline queue full (${this.limit}): the oldest message was dropped`));
      }
    });
  }

  /**
   * Takes back the frame queued for `source` (a call that timed out must not run later): it is not
   * sent, and its promise rejects. False when it is not queued (sent already, or never queued).
   */
  withdraw(source: object): boolean {
    const index = this.entries.findIndex((entry) => entry.source === source);
    if (index < 0) return false;
    this.entries.splice(index, 1)[0].reject(new Error('Withdrawn before it was sent'));
    return true;
  }

  /** Writes every queued frame, in order, with `write`. */
  flush(write: (frame: string) => void): void {
    for (const entry of this.entries.splice(0)) {
      write(entry.frame);
      entry.resolve();
    }
  }

  /** Fails every queued frame (a deliberate disconnect, a refusal that will not be retried). */
  fail(error: Error): void {
    for (const entry of this.entries.splice(0)) entry.reject(error);
  }
}
