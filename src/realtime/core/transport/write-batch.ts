/** Something corked for the rest of the current turn. */
export interface TurnWriter {
  endTurn(): void;
}

/**
 * The sockets written to during one event-loop turn, uncorked together when it ends, so that a
 * turn's frames to one socket leave in one `writev` (a burst of broadcasts costs one syscall per
 * socket, not one per frame and socket). `ws` has no cork of its own (its PRs #1797 and #2214).
 */
class WriteBatch {
  private readonly corked: TurnWriter[] = [];
  private readonly flush = (): void => {
    for (const writer of this.corked.splice(0)) writer.endTurn();
  };

  constructor(private readonly schedule: (callback: () => void) => unknown) {}

  add(writer: TurnWriter): void {
    this.corked.push(writer);
    if (this.corked.length === 1) this.schedule(this.flush);
  }
}

/** Uncorked once the current callback and its ticks are done. */
export const writeBatch = new WriteBatch((flush) => process.nextTick(flush));

/** Uncorked after this turn's promises too (a welcome sent once the connect's async steps are done). */
export const openingBatch = new WriteBatch((flush) => setImmediate(flush));
