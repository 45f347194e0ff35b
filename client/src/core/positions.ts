/** A position in a stream (SPEC §11): the offset of its last event, in one epoch of its history. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/**
 * The last position seen per stream: what a reconnect resumes from, and what keeps a duplicate from
 * ever reaching the app (an event at or below a position already seen in the same epoch).
 */
export class Positions {
  private readonly last = new Map<string, StreamPosition>();

  get(stream: string): StreamPosition | undefined {
    return this.last.get(stream);
  }

  /** Where a join's reply says the stream is. */
  set(stream: string, position: StreamPosition): void {
    this.last.set(stream, { offset: position.offset, epoch: position.epoch });
  }

  forget(stream: string): void {
    this.last.delete(stream);
  }

  /** Whether the event at `offset` of `epoch` is new to this client (then it is recorded). */
  accept(stream: string, offset: number, epoch: string): boolean {
    const known = this.last.get(stream);
    if (known && known.epoch === epoch && offset <= known.offset) return false;
    this.last.set(stream, { offset, epoch });
    return true;
  }
}
