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

/** @publicApi */
export type ChatEventType = (typeof CHAT_EVENT_TYPES)[number];

/** What the server may publish: every event type but `error`, which only answers a client. */
export const PUBLISHABLE_CHAT_EVENT_TYPES = CHAT_EVENT_TYPES.filter(
  (type): type is Exclude<ChatEventType, 'error'> => type !== 'error',
);

export interface ChatEvent {
  type: ChatEventType;
  room: string;
  data: Record<string, unknown>;
  sender: string | null;
  timestamp: string;
}

/** ISO 8601 UTC with milliseconds, as every chat frame carries. */
export const timestamp = (): string => new Date().toISOString();
