import { randomUUID } from 'node:crypto';
/** Server → client event types of the scheduler gateway (seed 001, SPEC.md §4). @publicApi */
export const SCHEDULER_EVENT_TYPES = [
  'experiment_created',
  'experiment_updated',
  'experiment_progress',
  'experiment_completed',
  'experiment_failed',
  'task_created',
  'task_updated',
  'task_progress',
  'task_completed',
  'task_failed',
  'worker_registered',
  'worker_updated',
  'worker_offline',
  'system_status',
] as const;

/** @publicApi */
export type SchedulerEventType = (typeof SCHEDULER_EVENT_TYPES)[number];

/**
 * Which resources an event concerns: the router derives from it whose subscribers get it
 * (seed 001 "Event Routing"). @publicApi
 */
export interface EventScope {
  experimentId?: string;
  taskId?: string;
  projectId?: string;
  userId?: string;
  workerId?: string;
}

/** Seed 001's experiment payload; other fields travel along. @publicApi */
export interface SchedulerExperiment {
  id: string;
  name: string;
  status: string;
  ownerId: string;
  projectId?: string;
  [field: string]: unknown;
}

/** @publicApi */
export interface SchedulerTask {
  id: string;
  experimentId: string;
  status: string;
  command?: string;
  workerId?: string | null;
  error?: string;
  [field: string]: unknown;
}

/** @publicApi */
export interface SchedulerWorker {
  id: string;
  computeResourceId: string;
  experimentId?: string;
  status: string;
  currentTaskId?: string | null;
  [field: string]: unknown;
}

/** @publicApi */
export interface ExperimentProgress {
  experimentId: string;
  totalTasks: number;
  completedTasks: number;
  failedTasks: number;
  runningTasks: number;
  progressPercent: number;
  estimatedTimeRemaining?: string;
  lastUpdated?: string;
  [field: string]: unknown;
}

/** @publicApi */
export interface TaskProgress {
  taskId: string;
  experimentId: string;
  status: string;
  progressPercent: number;
  currentStage?: string;
  workerId?: string | null;
  startedAt?: string;
  estimatedCompletion?: string;
  lastUpdated?: string;
  [field: string]: unknown;
}

/** The scheduler frame envelope: `{type, id, timestamp, data?, error?}`. */
export interface SchedulerFrame {
  type: string;
  id: string;
  timestamp: string;
  data?: unknown;
  error?: string;
}

export const timestamp = (): string => new Date().toISOString();

/** A fresh frame id: `<prefix>-<uuid>`. */
export const frameId = (prefix: string): string => `${prefix}-${randomUUID()}`;
