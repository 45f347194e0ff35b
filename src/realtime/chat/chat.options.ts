/** @publicApi */
export interface ChatOptions {
  /**
   * Connections per user (on every instance); the next one is closed with 4429.
   * @default 5
   */
  maxConnectionsPerUser?: number;
  /**
   * Longest `send_message` content, in characters.
   * @default 4000
   */
  maxContentLength?: number;
}

export const CHAT_DEFAULTS = { maxConnectionsPerUser: 5, maxContentLength: 4000 } as const;

export type ChatConfig = Required<ChatOptions>;

export function resolveChatConfig(options: { chat?: ChatOptions }): ChatConfig {
  return {
    maxConnectionsPerUser: options.chat?.maxConnectionsPerUser ?? CHAT_DEFAULTS.maxConnectionsPerUser,
    maxContentLength: options.chat?.maxContentLength ?? CHAT_DEFAULTS.maxContentLength,
  };
}
