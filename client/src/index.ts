/**
 * `nest-realtime-client`: typed clients of the four gateways of `nest-realtime-gateways`, for
 * browsers and Node, sharing one connection core (credentials without a URL token, reconnect with
 * jittered backoff, heartbeat, resume with positions, token refresh, offline queue).
 */
export { ChatClient, type ChatEvents, type ChatRoomEvent } from './chat-client.js';
export {
  SchedulerClient,
  type SchedulerClientOptions,
  type SchedulerEvent,
  type SchedulerEvents,
  type SchedulerPath,
  type SchedulerResourceType,
} from './scheduler-client.js';
export {
  CheckpointClient,
  CheckpointRpcError,
  CheckpointTimeoutError,
  type CheckpointCallOptions,
  type CheckpointClientOptions,
  type CheckpointEvents,
  type CheckpointMethod,
  type CheckpointParams,
  type CheckpointResults,
} from './checkpoint-client.js';
export { NotifyClient, type NotifyClientOptions, type NotifyEvents } from './notify-client.js';
export {
  RealtimeClient,
  type ClientOptions,
  type ConnectionEvents,
  type ConnectionState,
  type CredentialMode,
  type WebSocketConstructor,
  type WebSocketLike,
} from './core/realtime-client.js';
export { backoffDelay, DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS, type BackoffOptions } from './core/backoff.js';
export { Positions, type StreamPosition } from './core/positions.js';
export type * from './frames.generated.js';
