/** Seed 001's resources and the scheduler's event messages, as JSON Schemas for its contract. */
import type { JsonSchema, MessageContract } from '../core/contract/index.js';
import {
  closed,
  open,
  text,
  count,
  nullable,
  RESOURCE,
  DATE_TIME,
  positions,
  serverFrame,
  type Properties,
} from './scheduler-contract-schemas.js';

/** Seed 001's system statistics. */
export const STATISTICS: Properties = {
  totalConnections: count('Connections accepted since the instance started'),
  activeConnections: count('Connections open now'),
  totalMessages: count('Frames in and out'),
  messagesPerSecond: { type: 'number', minimum: 0 },
  averageLatency: { type: 'string', pattern: '^\\d+(\\.\\d+)?s$', description: 'e.g. `0.05s`' },
  uptime: { type: 'string', pattern: '^\\d+h \\d+m \\d+s$', description: 'e.g. `2h 30m 15s`' },
};

// The seed's resources: the fields it shows, other fields of the host's objects travel along.

export const EXPERIMENT = open(
  {
    id: text(),
    name: { type: 'string' },
    status: text('e.g. CREATED, RUNNING, COMPLETED, FAILED'),
    ownerId: text(),
    projectId: text(),
  },
  ['id', 'name', 'status', 'ownerId'],
);
export const EXPERIMENT_SUMMARY = closed({ id: text(), name: { type: 'string' }, status: text(), ownerId: text() }, [
  'id',
  'name',
  'status',
  'ownerId',
]);
export const TASK_ERROR: JsonSchema = {
  type: 'string',
  description: 'Why the task failed (task_failed), in the task and its summary',
};
export const TASK = open(
  {
    id: text(),
    experimentId: text(),
    status: text('e.g. CREATED, RUNNING, COMPLETED, FAILED'),
    command: { type: 'string' },
    workerId: nullable(text()),
    error: TASK_ERROR,
  },
  ['id', 'experimentId', 'status'],
);
export const TASK_SUMMARY = closed(
  { id: text(), experimentId: text(), status: text(), workerId: nullable(text()), error: TASK_ERROR },
  ['id', 'experimentId', 'status', 'workerId'],
);
export const WORKER = open(
  {
    id: text(),
    computeResourceId: text(),
    experimentId: text(),
    status: text('e.g. RUNNING, OFFLINE'),
    currentTaskId: nullable(text()),
  },
  ['id', 'computeResourceId', 'status'],
);
export const WORKER_SUMMARY = closed({ id: text(), computeResourceId: text(), experimentId: text(), status: text() }, [
  'id',
  'computeResourceId',
  'status',
]);
export const EXPERIMENT_PROGRESS = open(
  {
    experimentId: text(),
    totalTasks: count('Tasks of the experiment'),
    completedTasks: count('Tasks completed'),
    failedTasks: count('Tasks failed'),
    runningTasks: count('Tasks running'),
    progressPercent: { type: 'number', minimum: 0, maximum: 100 },
    estimatedTimeRemaining: { type: 'string', description: 'e.g. `1h 30m`' },
    lastUpdated: DATE_TIME,
  },
  ['experimentId', 'totalTasks', 'completedTasks', 'failedTasks', 'runningTasks', 'progressPercent', 'lastUpdated'],
);
export const TASK_PROGRESS = open(
  {
    taskId: text(),
    experimentId: text(),
    status: text(),
    progressPercent: { type: 'number', minimum: 0, maximum: 100 },
    currentStage: { type: 'string' },
    workerId: nullable(text()),
    startedAt: DATE_TIME,
    estimatedCompletion: DATE_TIME,
    lastUpdated: DATE_TIME,
  },
  ['taskId', 'experimentId', 'status', 'progressPercent', 'lastUpdated'],
);

/**
 * An event id (SPEC §4): seed 001's `<prefix>_{resourceId}_{unixSeconds}` (`system_{unixSeconds}`),
 * then `_` and a suffix that keeps it unique within one second: the publishing process's 7-character
 * tag and a base-36 count.
 */
export function eventId(prefix: string, ofResource: boolean): JsonSchema {
  const resource = ofResource ? `_${RESOURCE}` : '';
  return {
    type: 'string',
    pattern: `^${prefix}${resource}_\\d+_[0-9a-z]{8,}$`,
    description: `${prefix}${ofResource ? '_{resourceId}' : ''}_{unixSeconds}_{suffix}`,
  };
}

export interface Family {
  /** The resource, as event types begin: `experiment` of `experiment_created`. */
  noun: string;
  idPrefix: string;
  ofResource: boolean;
  topics: readonly string[];
}

export const EXPERIMENT_EVENTS: Family = {
  noun: 'experiment',
  idPrefix: 'exp',
  ofResource: true,
  topics: ['experiment', 'project', 'user'],
};
export const TASK_EVENTS: Family = {
  noun: 'task',
  idPrefix: 'task',
  ofResource: true,
  topics: ['task', 'experiment', 'project', 'user'],
};
export const WORKER_EVENTS: Family = {
  noun: 'worker',
  idPrefix: 'worker',
  ofResource: true,
  topics: ['worker', 'system'],
};
export const SYSTEM_EVENTS: Family = { noun: 'system', idPrefix: 'system', ofResource: false, topics: ['broadcast'] };

export function event(type: string, summary: string, family: Family, data: JsonSchema): MessageContract {
  return {
    name: type,
    summary,
    payload: serverFrame(
      { const: type },
      eventId(family.idPrefix, family.ofResource),
      { data, positions: positions(family.topics) },
      ['data'],
    ),
  };
}

/** `data` of a resource event: the resource as the publisher gave it, and its summary. */
export const resourceData = (key: string, resource: JsonSchema, summary: JsonSchema): JsonSchema =>
  closed({ [key]: resource, summary }, [key, 'summary']);

export const HAPPENED = {
  created: 'was created',
  updated: 'changed',
  completed: 'completed',
  failed: 'failed',
  registered: 'registered',
  offline: 'went offline',
} as const;

/** The events of a family whose data is the resource and its summary: `<noun>_<verb>` for each verb. */
export function resourceEvents(
  family: Family,
  data: JsonSchema,
  verbs: ReadonlyArray<keyof typeof HAPPENED>,
): MessageContract[] {
  const { noun } = family;
  const article = /^[aeiou]/.test(noun) ? 'An' : 'A';
  return verbs.map((verb) => event(`${noun}_${verb}`, `${article} ${noun} ${HAPPENED[verb]}`, family, data));
}
