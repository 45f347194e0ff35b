interface Entry {
  frame: string;
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
  push(frame: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.entries.push({ frame, resolve, reject });
      if (this.entries.length > this.limit) {
        this.entries.shift()!.reject(new Error(`Offline queue full (${this.limit}): the oldest message was dropped`));
      }
    });
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
