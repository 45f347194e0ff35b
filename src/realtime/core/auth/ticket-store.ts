/** Where connect tickets wait for their single use: in memory, or in Redis for every instance. */
export interface TicketStore {
  /** Keeps `value` under `digest` for `ttlMs`; false when the store is full (memory) . */
  put(digest: string, value: string, ttlMs: number): Promise<boolean>;
  /** The value of `digest`, removed in the same step (a second use finds nothing), or undefined. */
  take(digest: string): Promise<string | undefined>;
}

export const TICKET_STORE = Symbol('TICKET_STORE');

/** The most tickets one instance holds in memory at once (30 s of 3,000 tickets a second). */
const MAX_MEMORY_TICKETS = 100_000;

/** One instance's tickets: a map in expiry order (one TTL for all), expired ones dropped from its head. */
export class MemoryTicketStore implements TicketStore {
  private readonly tickets = new Map<string, { value: string; expiresAt: number }>();

  constructor(private readonly capacity = MAX_MEMORY_TICKETS) {}

  put(digest: string, value: string, ttlMs: number): Promise<boolean> {
    this.sweep();
    if (this.tickets.size >= this.capacity) return Promise.resolve(false);
    this.tickets.set(digest, { value, expiresAt: Date.now() + ttlMs });
    return Promise.resolve(true);
  }

  take(digest: string): Promise<string | undefined> {
    const ticket = this.tickets.get(digest);
    if (!ticket) return Promise.resolve(undefined);
    this.tickets.delete(digest);
    return Promise.resolve(ticket.expiresAt > Date.now() ? ticket.value : undefined);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [digest, ticket] of this.tickets) {
      if (ticket.expiresAt > now) return;
      this.tickets.delete(digest);
    }
  }
}
