import { randomUUID } from 'node:crypto';
import {
  standardRefusal,
  type GatewayDefinition,
  type InboundFrame,
  type RealtimeError,
} from '../core/gateway/index.js';
import { notifyFrame } from './notify-events.js';
import { NOTIFY_CONTRACT } from './notify.contract.js';
import { NOTIFY_TOKEN_REFRESH } from './notify-token-refresh.js';
import { resolveNotifyConfig, type NotifyOptions } from './notify.options.js';

/** Client frames answered by the gateway itself; any other type goes to the host app. */
const OWN_TYPES = new Set(['ping', 'pong', NOTIFY_TOKEN_REFRESH.messageKey]);

const errorFrame = (error: RealtimeError): object => notifyFrame('error', error.message);

/**
 * The notify gateway (seed 002, SPEC.md §6) on `/ws` (a generated client id) and `/ws/:clientId`
 * (the fixed paths of the other gateways win): `{type, content, meta, timestamp}` frames both ways,
 * an app-level ping with `meta.ping_id`, and only frames (not protocol pongs) keep a client alive.
 */
export const NOTIFY_GATEWAY: GatewayDefinition = {
  gateway: 'notify',
  paths: ['/ws', '/ws/:clientId'],
  contract: NOTIFY_CONTRACT,
  paramPatterns: { clientId: '[A-Za-z0-9_.-]{1,64}' },
  connectionIdParam: 'clientId',
  livenessByFrames: true,
  limits: (options: { notify?: NotifyOptions }) => {
    const config = resolveNotifyConfig(options);
    return { perUser: config.maxConnectionsPerUser, perIp: config.maxConnectionsPerIp, total: config.maxConnections };
  },
  messageKey: (frame: InboundFrame) => {
    if (typeof frame.type !== 'string') return undefined;
    return OWN_TYPES.has(frame.type) ? frame.type : 'message';
  },
  errorFrame,
  refusal: standardRefusal(errorFrame),
  tokenRefresh: NOTIFY_TOKEN_REFRESH,
  heartbeat: () => notifyFrame('ping', 'ping', { ping_id: randomUUID() }),
};
