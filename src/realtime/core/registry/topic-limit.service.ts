import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { RealtimeError } from '../gateway/realtime-error.js';
import type { Connection } from '../transport/connection.js';

/**
 * SPEC.md §10.1: a connection holds at most `maxTopicsPerConnection` rooms or subscriptions, so
 * that no client can grow the server's memory without bound. Each gateway words the refusal.
 */
@Injectable()
export class TopicLimit {
  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  /** Throws `capacity` with `message` unless `connection` may take `topic` (`exempt` topics not counted). */
  check(connection: Connection, topic: string, message: string, exempt = 0): void {
    if (connection.topics.has(topic)) return;
    if (connection.topics.size - exempt >= this.config.maxTopicsPerConnection) {
      throw new RealtimeError('capacity', message);
    }
  }
}
