import type { OnApplicationShutdown } from '@nestjs/common';
import type { RedisKeys } from '../../redis/redis-keys.js';
import type { RedisClient } from '../../redis/redis.options.js';
import type { TicketStore } from './ticket-store.js';

/** Tickets in Redis: any instance redeems one, once (`GETDEL`), and Redis expires the rest. */
export class RedisTicketStore implements TicketStore, OnApplicationShutdown {
  constructor(
    readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async put(digest: string, value: string, ttlMs: number): Promise<boolean> {
    await this.client.set(this.keys.connectTicket(digest), value, 'PX', ttlMs);
    return true;
  }

  async take(digest: string): Promise<string | undefined> {
    return (await this.client.getdel(this.keys.connectTicket(digest))) ?? undefined;
  }

  onApplicationShutdown(): void {
    this.client.disconnect();
  }
}
