import type { PublishReceipt } from '../bus/index.js';
import { Injectable } from '@nestjs/common';
import { RealtimeError } from '../core/gateway/index.js';
import { isDeliverableRoom, userRoom } from './chat-room.js';
import { PUBLISHABLE_CHAT_EVENT_TYPES, type ChatEventType } from './chat-events.js';
import { ChatService } from './chat.service.js';

type Data = Record<string, unknown>;
type Id = string | number;

const PUBLISHABLE = new Set<string>(PUBLISHABLE_CHAT_EVENT_TYPES);

/**
 * The host application's handle on chat rooms (seed 000's `ws_events.py` helpers): inject it
 * into any service and push events; they reach every member of the room on every instance.
 * @publicApi
 */
@Injectable()
export class ChatPublisher {
  constructor(private readonly chat: ChatService) {}

  /** Publishes any chat event type to a `channel|project|task:<id>` or `user:<id>` room. */
  publish(room: string, type: ChatEventType, data: Data, sender: string | null = null): void {
    void this.publishStored(room, type, data, sender);
  }

  /**
   * Publishes like `publish`, and resolves once the event is stored (with Redis: Redis has it) with
   * its positions, `buffered` while Redis is away, or `failed`; it never rejects.
   */
  publishStored(room: string, type: ChatEventType, data: Data, sender: string | null = null): Promise<PublishReceipt> {
    if (!isDeliverableRoom(room)) throw RealtimeError.badFrame(`Invalid room: ${room}`);
    if (!PUBLISHABLE.has(type)) throw RealtimeError.badFrame(`Unknown event type: ${type}`);
    return this.chat.publish(room, type, data, sender);
  }

  message(room: string, data: Data, sender: string | null = null): void {
    this.publish(room, 'message', data, sender);
  }

  messageEdited(room: string, data: Data, sender: string | null = null): void {
    this.publish(room, 'message.edited', data, sender);
  }

  messageDeleted(room: string, data: Data, sender: string | null = null): void {
    this.publish(room, 'message.deleted', data, sender);
  }

  taskCreated(taskId: Id, data: Data, sender: string | null = null): void {
    this.publish(`task:${taskId}`, 'task.created', data, sender);
  }

  taskUpdated(taskId: Id, data: Data, sender: string | null = null): void {
    this.publish(`task:${taskId}`, 'task.updated', data, sender);
  }

  taskStatusChanged(taskId: Id, data: Data, sender: string | null = null): void {
    this.publish(`task:${taskId}`, 'task.status_changed', data, sender);
  }

  taskAssigned(taskId: Id, data: Data, sender: string | null = null): void {
    this.publish(`task:${taskId}`, 'task.assigned', data, sender);
  }

  taskDeleted(taskId: Id, data: Data, sender: string | null = null): void {
    this.publish(`task:${taskId}`, 'task.deleted', data, sender);
  }

  projectUpdated(projectId: Id, data: Data, sender: string | null = null): void {
    this.publish(`project:${projectId}`, 'project.updated', data, sender);
  }

  projectArchived(projectId: Id, data: Data, sender: string | null = null): void {
    this.publish(`project:${projectId}`, 'project.archived', data, sender);
  }

  /** To every connection of one user, through its `user:<id>` room. */
  notify(userId: Id, data: Data, sender: string | null = null): void {
    this.publish(userRoom(userId), 'notification.new', data, sender);
  }
}
