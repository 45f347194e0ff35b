/** The outbound bounds of SPEC.md §9: past either, the socket is closed with 1013. */
export interface OutboundLimits {
  maxQueueSize: number;
  maxQueueBytes: number;
}

/**
 * One socket's unsent backlog, as counted against its limits. Only what the kernel did not take
 * counts: a burst written to a socket that keeps up is not a backlog, and neither is one large
 * event written to a socket with nothing pending.
 */
export class OutboundBudget {
  /** Messages written while a backlog existed; back to zero once the kernel has taken everything. */
  private queued = 0;

  constructor(readonly limits: OutboundLimits) {}

  get queuedMessages(): number {
    return this.queued;
  }

  /**
   * Whether `bytes` more may be written while `backlogBytes` are still held. `kernelBacklog` is what
   * the kernel had not taken (while a socket is corked for a turn, what it had not taken when the
   * turn began): only then are messages queued; the bytes held count against the limit either way.
   */
  admits(backlogBytes: number, bytes: number, kernelBacklog = backlogBytes): boolean {
    if (kernelBacklog === 0) this.queued = 0;
    if (this.queued >= this.limits.maxQueueSize) return false;
    return backlogBytes === 0 || backlogBytes + bytes <= this.limits.maxQueueBytes;
  }

  /** After a write: a message the kernel did not take at once joins the backlog. */
  written(backlogBytesAfter: number): void {
    if (backlogBytesAfter > 0) this.queued++;
  }
}
