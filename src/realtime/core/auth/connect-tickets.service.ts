import { Inject, Injectable, type Provider } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { RedisConnector } from '../../redis/redis-connector.js';
import { RealtimeError } from '../gateway/realtime-error.js';
import { principalOf, type Principal } from './principal.js';
import { RedisTicketStore } from './redis-ticket-store.js';
import { MemoryTicketStore, TICKET_STORE, type TicketStore } from './ticket-store.js';

/** 256 random bits, base64url: 43 characters. */
const TICKET_BYTES = 32;
const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export const TICKETS_UNAVAILABLE = new RealtimeError('unavailable', 'Connect tickets unavailable');

/**
 * One-time connect tickets (SPEC.md §2 as issue 24 extends it): a principal that authenticated on
 * REST gets a random ticket that authenticates one upgrade, on any instance, within its lifetime,
 * as that principal. Only the SHA-256 of a ticket is stored; a ticket is never logged.
 */
@Injectable()
export class ConnectTickets {
  private readonly ttlSec: number;

  constructor(
    @Inject(TICKET_STORE) private readonly store: TicketStore,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.ttlSec = config.auth.ticketTtlSec;
  }

  /** A new ticket for `principal`; throws `Connect tickets unavailable` when it cannot be stored. */
  async issue(principal: Principal): Promise<{ ticket: string; expiresIn: number }> {
    const ticket = randomBytes(TICKET_BYTES).toString('base64url');
    const claims = {
      sub: principal.userId,
      username: principal.username,
      roles: principal.roles,
      acl: principal.acl,
      exp: principal.exp,
    };
    let stored: boolean;
    try {
      stored = await this.store.put(digestOf(ticket), JSON.stringify(claims), this.ttlSec * 1000);
    } catch {
      stored = false;
    }
    if (!stored) throw TICKETS_UNAVAILABLE;
    return { ticket, expiresIn: this.ttlSec };
  }

  /**
   * The principal of a valid, unused ticket, which is used up; undefined for a forged, used or
   * expired one; rejects when the store cannot be asked.
   */
  async redeem(ticket: string): Promise<Principal | undefined> {
    if (!TICKET_FORMAT.test(ticket)) return undefined;
    const value = await this.store.take(digestOf(ticket));
    if (value === undefined) return undefined;
    try {
      return principalOf(JSON.parse(value));
    } catch {
      return undefined;
    }
  }
}

function digestOf(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}

/** Redis when it is configured (a ticket works on every instance), else memory. */
export const ticketStoreProvider: Provider<TicketStore> = {
  provide: TICKET_STORE,
  inject: [RedisConnector],
  useFactory: (redis: RedisConnector): TicketStore => {
    if (!redis.enabled) return new MemoryTicketStore();
    const client = redis.create('store');
    // The connector logs connection failures; meanwhile tickets are refused (503) and redeemed as errors (1011).
    client.connect().catch(() => undefined);
    return new RedisTicketStore(client, redis.keys);
  },
};
