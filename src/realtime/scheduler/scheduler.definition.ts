import {
  standardRefusal,
  type GatewayDefinition,
  type InboundFrame,
  type RealtimeError,
  type RealtimeErrorKind,
} from '../core/gateway/index.js';
import { frameId, timestamp, type SchedulerFrame } from './scheduler-events.js';
import { SCHEDULER_TOKEN_REFRESH } from './scheduler-token-refresh.js';
import { SCHEDULER_CONTRACT } from './scheduler.contract.js';
import { resolveSchedulerConfig, type SchedulerOptions } from './scheduler.options.js';

/** Seed 001 words malformed frames and unknown types with fixed messages, whatever the detail. */
const FIXED_WORDING: Partial<Record<RealtimeErrorKind, string>> = {
  bad_frame: 'Invalid message format',
  unknown_type: 'Unknown message type',
};

export { frameId } from './scheduler-events.js';

/** An error answers a request under the request's own id when it has one (SPEC.md §4), else a fresh one. */
function errorFrame(error: RealtimeError, frame?: InboundFrame): SchedulerFrame {
  return {
    type: 'error',
    id: typeof frame?.id === 'string' && frame.id !== '' ? frame.id : frameId('error'),
    timestamp: timestamp(),
    error: FIXED_WORDING[error.kind] ?? error.message,
  };
}

/**
 * The scheduler gateway (seed 001, SPEC.md §4): one subscription per path, more through
 * `system_status` frames; every frame `{type, id, timestamp, data?, error?}`.
 */
export const SCHEDULER_GATEWAY: GatewayDefinition = {
  gateway: 'scheduler',
  positionStyle: 'map',
  paths: ['/ws/experiments/:experimentId', '/ws/tasks/:taskId', '/ws/projects/:projectId', '/ws/user'],
  contract: SCHEDULER_CONTRACT,
  limits: (options: { scheduler?: SchedulerOptions }) => {
    const config = resolveSchedulerConfig(options);
    return { perUser: config.maxConnectionsPerUser, perIp: config.maxConnectionsPerIp, total: config.maxConnections };
  },
  messageKey: (frame: InboundFrame) => (typeof frame.type === 'string' ? frame.type : undefined),
  errorFrame,
  refusal: standardRefusal(errorFrame),
  tokenRefresh: SCHEDULER_TOKEN_REFRESH,
  heartbeat: () => ({ type: 'ping', id: frameId('ping'), timestamp: timestamp() }),
};
