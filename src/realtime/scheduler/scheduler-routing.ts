import { randomBytes } from 'node:crypto';
import type { ResourceRef } from '../core/auth/index.js';
import { RealtimeError } from '../core/gateway/index.js';
import type { EventScope, SchedulerEventType } from './scheduler-events.js';

/** Where one event goes: every scheduler connection, or the subscribers of `topics` (each once). */
export type EventRoute = { everyone: true } | { everyone: false; topics: string[] };

type Family = 'experiment' | 'task' | 'worker' | 'system';

/** What each family must name in its scope, and the resource whose id its event ids carry. */
const ID_PREFIX: Record<Family, { required?: keyof EventScope; prefix: string }> = {
  experiment: { required: 'experimentId', prefix: 'exp' },
  task: { required: 'taskId', prefix: 'task' },
  worker: { required: 'workerId', prefix: 'worker' },
  system: { prefix: 'system' },
};

export function familyOf(type: SchedulerEventType): Family {
  return type === 'system_status' ? 'system' : (type.slice(0, type.indexOf('_')) as Family);
}

/** The topic a subscription to `resource` listens on: `experiment:exp-1`, `system`. */
export function topicOf(resource: ResourceRef): string {
  return resource.id === undefined ? resource.type : `${resource.type}:${resource.id}`;
}

/**
 * Seed 001's routing table. Experiment → experiment + project + user; task → task + experiment +
 * project + user; worker → worker + system; system → every scheduler connection.
 */
export function routeEvent(type: SchedulerEventType, scope: EventScope): EventRoute {
  const family = familyOf(type);
  requireScope(family, scope);
  const topic = (resource: string, id: string | undefined): string[] => (id ? [topicOf({ type: resource, id })] : []);
  switch (family) {
    case 'system':
      return { everyone: true };
    case 'worker':
      return { everyone: false, topics: [...topic('worker', scope.workerId), 'system'] };
    case 'task':
    case 'experiment':
      return {
        everyone: false,
        topics: [
          ...(family === 'task' ? topic('task', scope.taskId) : []),
          ...topic('experiment', scope.experimentId),
          ...topic('project', scope.projectId),
          ...topic('user', scope.userId),
        ],
      };
  }
}

/** This process's part of every event id it makes: 7 base-36 characters, random at start-up. */
const PROCESS_TAG = randomBytes(4).readUInt32BE().toString(36).padStart(7, '0');
let eventsMade = 0;

/**
 * Seed 001's id formats, `exp_{experimentId}_{unixSeconds}`, `task_…`, `worker_…`,
 * `system_{unixSeconds}`, then `_` and a suffix that makes each event's id unique (SPEC.md §4),
 * however many events of one resource fall in one second: this process's tag and a base-36 count.
 */
export function eventId(type: SchedulerEventType, scope: EventScope, nowMs: number): string {
  const { required, prefix } = ID_PREFIX[familyOf(type)];
  const seconds = Math.floor(nowMs / 1000);
  const suffix = `${PROCESS_TAG}${(++eventsMade).toString(36)}`;
  return required ? `${prefix}_${scope[required]}_${seconds}_${suffix}` : `${prefix}_${seconds}_${suffix}`;
}

function requireScope(family: Family, scope: EventScope): void {
  const { required } = ID_PREFIX[family];
  if (required && !scope[required]) throw RealtimeError.badFrame(`A ${family} event needs scope.${required}`);
}
