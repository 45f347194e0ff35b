export { framePipe, frameValidationPipe } from './frame-validation.pipe.js';
export {
  FALLBACK_HANDLER,
  refusalCode,
  standardRefusal,
  type ConnectionLimits,
  type GatewayDefinition,
  type GatewayProtocol,
  type InboundFrame,
  type Refusal,
  type TokenRefreshFrames,
} from './gateway-definition.js';
export { GatewayCatalog } from './gateway-catalog.service.js';
export { GATEWAY_NAME_FORMAT, type GatewayName } from './gateway-name.js';
export {
  AUTH_REQUIRED,
  CloseCode,
  INVALID_TOKEN,
  RATE_LIMITED,
  RealtimeError,
  TOO_MANY_CONNECTIONS,
  type RealtimeErrorKind,
} from './realtime-error.js';
export { RealtimeExceptionFilter } from './realtime-exception.filter.js';
export { RealtimeGateway, type RealtimeGatewayOptions } from './realtime-gateway.decorator.js';
export { PUBLISH_TARGETS, type PublishTarget, type RealtimeFeature } from './realtime-feature.js';
export { SinceField, StreamPositionDto } from './stream-position.dto.js';
export { REALTIME_MODULE_OPTIONS } from './module-options.js';
export { DEFAULT_TOKEN_REFRESH, expiryText } from './token-refresh-frames.js';
