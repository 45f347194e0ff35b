import type { PublishReceipt } from '../bus/index.js';
import { Injectable } from '@nestjs/common';
import type {
  EventScope,
  ExperimentProgress,
  SchedulerEventType,
  SchedulerExperiment,
  SchedulerTask,
  SchedulerWorker,
  TaskProgress,
} from './scheduler-events.js';
import { SchedulerService } from './scheduler.service.js';

/** Where an experiment's or task's progress also goes: its project and its owner. */
export type OwnerScope = Pick<EventScope, 'projectId' | 'userId'>;

type Data = Record<string, unknown>;

/**
 * The host application's handle on the scheduler gateway (seed 001): one method per event type,
 * building the seed's payloads (`data.experiment` + `data.summary`, progress fields) and ids, routed
 * per the seed's table to the subscribers of every matching resource on every instance. Each
 * method returns the event id.
 * @publicApi
 */
@Injectable()
export class SchedulerPublisher {
  constructor(private readonly scheduler: SchedulerService) {}

  /** Any event type with its data as given, routed by `scope`. */
  publish(type: SchedulerEventType, data: Data, scope: EventScope): string {
    return this.scheduler.publish(type, data, scope);
  }

  /** Publishes like `publish`; await `receipt` for a durable publish (stored in Redis, with its positions). */
  publishWithReceipt(
    type: SchedulerEventType,
    data: Data,
    scope: EventScope,
  ): { id: string; receipt: Promise<PublishReceipt> } {
    return this.scheduler.publishWithReceipt(type, data, scope);
  }

  experimentCreated(experiment: SchedulerExperiment): string {
    return this.experimentEvent('experiment_created', experiment);
  }

  experimentUpdated(experiment: SchedulerExperiment): string {
    return this.experimentEvent('experiment_updated', experiment);
  }

  experimentCompleted(experiment: SchedulerExperiment): string {
    return this.experimentEvent('experiment_completed', experiment);
  }

  experimentFailed(experiment: SchedulerExperiment): string {
    return this.experimentEvent('experiment_failed', experiment);
  }

  experimentProgress(progress: ExperimentProgress, scope: OwnerScope = {}): string {
    return this.publish('experiment_progress', withLastUpdated(progress), {
      ...scope,
      experimentId: progress.experimentId,
    });
  }

  taskCreated(task: SchedulerTask, scope: OwnerScope = {}): string {
    return this.taskEvent('task_created', task, scope);
  }

  taskUpdated(task: SchedulerTask, scope: OwnerScope = {}): string {
    return this.taskEvent('task_updated', task, scope);
  }

  taskCompleted(task: SchedulerTask, scope: OwnerScope = {}): string {
    return this.taskEvent('task_completed', task, scope);
  }

  taskFailed(task: SchedulerTask, scope: OwnerScope = {}): string {
    return this.taskEvent('task_failed', task, scope);
  }

  taskProgress(progress: TaskProgress, scope: OwnerScope = {}): string {
    return this.publish('task_progress', withLastUpdated(progress), {
      ...scope,
      taskId: progress.taskId,
      experimentId: progress.experimentId,
    });
  }

  workerRegistered(worker: SchedulerWorker): string {
    return this.workerEvent('worker_registered', worker);
  }

  workerUpdated(worker: SchedulerWorker): string {
    return this.workerEvent('worker_updated', worker);
  }

  workerOffline(worker: SchedulerWorker): string {
    return this.workerEvent('worker_offline', worker);
  }

  /** To every scheduler connection. */
  systemStatus(data: Data): string {
    return this.publish('system_status', data, {});
  }

  private experimentEvent(type: SchedulerEventType, experiment: SchedulerExperiment): string {
    const { id, name, status, ownerId } = experiment;
    return this.publish(
      type,
      { experiment, summary: { id, name, status, ownerId } },
      { experimentId: id, projectId: experiment.projectId, userId: ownerId },
    );
  }

  private taskEvent(type: SchedulerEventType, task: SchedulerTask, scope: OwnerScope): string {
    const { id, experimentId, status, error } = task;
    const summary = {
      id,
      experimentId,
      status,
      workerId: task.workerId ?? null,
      ...(error === undefined ? {} : { error }),
    };
    return this.publish(type, { task, summary }, { ...scope, taskId: id, experimentId });
  }

  private workerEvent(type: SchedulerEventType, worker: SchedulerWorker): string {
    const { id, computeResourceId, experimentId, status } = worker;
    return this.publish(type, { worker, summary: { id, computeResourceId, experimentId, status } }, { workerId: id });
  }
}

function withLastUpdated<T extends { lastUpdated?: string }>(progress: T): T {
  return progress.lastUpdated === undefined ? { ...progress, lastUpdated: new Date().toISOString() } : progress;
}
