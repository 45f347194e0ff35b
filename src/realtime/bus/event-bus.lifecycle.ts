import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { EVENT_BUS, type EventBus } from './event-bus.js';

/** Flushes and closes the bus once the sockets are closed (Nest runs this after `beforeApplicationShutdown`). */
@Injectable()
export class EventBusLifecycle implements OnApplicationShutdown {
  constructor(@Inject(EVENT_BUS) private readonly bus: EventBus) {}

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}
