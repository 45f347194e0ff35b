/** Server → client event types of the chat gateway (SPEC.md §3). */
export const CHAT_EVENT_TYPES = [
  'message',
  'message.edited',
  'message.deleted',
  'task.created',
  'task.updated',
  'task.status_changed',
  'task.assigned',
  'task.deleted',
  'project.updated',
  'project.archived',
  'user_joined',
  'user_left',
  'notification.new',
  'error',
] as const;

export type ChatEventType = (typeof CHAT_EVENT_TYPES)[number];

export interface ChatEvent {
  type: ChatEventType;
  room: string;
  data: Record<string, unknown>;
  sender: string | null;
  timestamp: string;
}
