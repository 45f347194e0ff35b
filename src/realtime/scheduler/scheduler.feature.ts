import type { RealtimeFeature } from '../core/gateway/index.js';
import { SchedulerPublishTarget } from './scheduler-publish.target.js';
import { SchedulerGateway } from './scheduler.gateway.js';
import { SchedulerPublisher } from './scheduler.publisher.js';
import { SchedulerService } from './scheduler.service.js';

/** The scheduler gateway as `RealtimeModule` registers it. */
export const SCHEDULER_FEATURE: RealtimeFeature = {
  providers: [SchedulerService, SchedulerPublisher, SchedulerGateway, SchedulerPublishTarget],
  exports: [SchedulerPublisher],
  publishTarget: SchedulerPublishTarget,
};
