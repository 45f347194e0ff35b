export {
  SCHEDULER_EVENT_TYPES,
  type EventScope,
  type ExperimentProgress,
  type SchedulerEventType,
  type SchedulerExperiment,
  type SchedulerTask,
  type SchedulerWorker,
  type TaskProgress,
} from './scheduler-events.js';
export { SCHEDULER_FEATURE } from './scheduler.feature.js';
export type { SchedulerOptions } from './scheduler.options.js';
export { SchedulerPublisher, type OwnerScope } from './scheduler.publisher.js';
