/**
 * The public API of `nest-realtime-gateways`: everything a host application imports. Anything
 * not exported here is internal and may change without notice.
 */
export { RealtimeModule } from './realtime.module.js';
export type { RealtimeModuleOptions } from './realtime.options.js';
export { REALTIME_CONFIG, type RealtimeConfig } from './realtime.config.js';
export { RealtimeWsAdapter } from './core/transport/realtime-ws.adapter.js';
export { BatchingConsoleLogger } from './core/logging/batching-console-logger.js';
export { ConnectionRegistry } from './core/registry/connection-registry.service.js';
export { TokenVerifier } from './core/auth/token-verifier.service.js';
export { JwtAuthenticator } from './core/auth/jwt-authenticator.js';
export {
  REALTIME_AUTHENTICATOR,
  type AuthenticatedUser,
  type AuthenticationRequest,
  type AuthenticationSource,
  type RealtimeAuthenticator,
} from './core/auth/authenticator.js';
export { ConnectTickets } from './core/auth/connect-tickets.service.js';
export { BEARER_SUBPROTOCOL_PREFIX, REALTIME_SUBPROTOCOL } from './core/auth/upgrade-credentials.js';
export { RealtimeMetrics } from './admin/realtime-metrics.service.js';
export { ACCESS_POLICY, DefaultAccessPolicy, type AccessPolicy, type ResourceRef } from './core/auth/access-policy.js';
export type { Principal } from './core/auth/principal.js';
export type { GatewayName } from './core/gateway/gateway-name.js';
export { GatewayCatalog } from './core/gateway/gateway-catalog.service.js';
export { RealtimeGateway } from './core/gateway/realtime-gateway.decorator.js';
export {
  FALLBACK_HANDLER,
  standardRefusal,
  type ConnectionLimits,
  type GatewayDefinition,
  type GatewayProtocol,
  type InboundFrame,
  type Refusal,
  type TokenRefreshFrames,
} from './core/gateway/gateway-definition.js';
export { DEFAULT_TOKEN_REFRESH } from './core/gateway/token-refresh-frames.js';
export { framePipe, frameValidationPipe } from './core/gateway/frame-validation.pipe.js';
export { SinceField, StreamPositionDto } from './core/gateway/stream-position.dto.js';
export { CloseCode } from './core/gateway/realtime-error.js';
export { GatewayPublisher, RealtimeTopics, type JoinPosition } from './core/registry/realtime-topics.service.js';
export type { Connection } from './core/transport/connection.js';
export type { PositionStyle, StreamPosition } from './bus/stream-position.js';
export type { GatewayContract, JsonSchema, MessageContract } from './core/contract/index.js';
export { RealtimeError, type RealtimeErrorKind } from './core/gateway/realtime-error.js';
export { EVENT_BUS, type BusMessage, type BusStatus, type EventBus, type PublishReceipt } from './bus/event-bus.js';
export type { RedisClient, RedisOptions } from './redis/redis.options.js';
export { ChatPublisher, type ChatEventType, type ChatOptions } from './chat/index.js';
export {
  SCHEDULER_EVENT_TYPES,
  SchedulerPublisher,
  type EventScope,
  type ExperimentProgress,
  type OwnerScope,
  type SchedulerEventType,
  type SchedulerExperiment,
  type SchedulerOptions,
  type SchedulerTask,
  type SchedulerWorker,
  type TaskProgress,
} from './scheduler/index.js';
export {
  CheckpointService,
  isStaticTokenPrincipal,
  type Checkpoint,
  type CheckpointEvent,
  type CheckpointOptions,
  type CheckpointSession,
  type CheckpointSummary,
} from './checkpoint/index.js';
export {
  NotifyPublisher,
  type LogLevel,
  type NotifyFrame,
  type NotifyInbound,
  type NotifyMessage,
  type NotifyOptions,
} from './notify/index.js';
