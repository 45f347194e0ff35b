import type { PublishReceipt } from '../bus/index.js';
import { Injectable } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { NotifyInbound, NotifyMessage } from './notify-events.js';
import { NotifyService } from './notify.service.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';

/**
 * The host application's handle on notify clients (seed 002's `ws_manager.notify`): messages to
 * one client id or to all, on every instance, the task-worker stream helpers, and what clients send.
 * @publicApi
 */
@Injectable()
export class NotifyPublisher {
  constructor(private readonly service: NotifyService) {}

  /** To the client `clientId`, or to every notify client when it is omitted. */
  notify(message: NotifyMessage, clientId?: string): void {
    void this.service.send(message, clientId);
  }

  /** Like `notify`, and resolves once the message is stored (see `ChatPublisher.publishStored`). */
  notifyStored(message: NotifyMessage, clientId?: string): Promise<PublishReceipt> {
    return this.service.send(message, clientId);
  }

  /** A log line of a task: type `logs`, `meta.level` and `meta.task_id`. */
  log(taskId: string, line: string, level: LogLevel = 'info', clientId?: string): void {
    void this.service.send({ type: 'logs', content: line, meta: { level, task_id: taskId } }, clientId);
  }

  taskStarted(taskId: string, content: unknown = null, clientId?: string): void {
    void this.service.send({ type: 'task_started', content, meta: { task_id: taskId } }, clientId);
  }

  taskSuccess(taskId: string, content: unknown = null, clientId?: string): void {
    void this.service.send({ type: 'task_success', content, meta: { task_id: taskId } }, clientId);
  }

  taskFailure(taskId: string, error: string, clientId?: string): void {
    void this.service.send({ type: 'task_failure', content: error, meta: { task_id: taskId } }, clientId);
  }

  /** Every frame a notify client sends (other than ping/pong), from this instance's clients. */
  messages(): Observable<NotifyInbound> {
    return this.service.messages();
  }
}
