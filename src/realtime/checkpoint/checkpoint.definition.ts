import {
  CloseCode,
  refusalCode,
  type GatewayDefinition,
  type InboundFrame,
  type RealtimeError,
  type Refusal,
} from '../core/gateway/index.js';
import { CHECKPOINT_CONTRACT } from './checkpoint.contract.js';
import { CHECKPOINT_TOKEN_REFRESH } from './checkpoint-token-refresh.js';
import { resolveCheckpointConfig, type CheckpointOptions } from './checkpoint.options.js';

/** A response of seed 003: `{id, success, result?, error?}`, absent fields omitted. */
export interface RpcResponse {
  id: string;
  success: boolean;
  result?: unknown;
  error?: string;
}

/**
 * Seed 003 words a frame it cannot read as a command `Invalid JSON: …` (id `unknown`), an unknown
 * method `Unknown method: M`, and anything else by its own message.
 */
function errorFrame(error: RealtimeError, frame?: InboundFrame): RpcResponse {
  if (!frame) return { id: 'unknown', success: false, error: errorText(error) };
  if (typeof frame.id !== 'string')
    return { id: 'unknown', success: false, error: 'Invalid JSON: id must be a string' };
  // A frame the parser refused (a forbidden key) is answered under its id, in seed 003's `Invalid JSON` words:
  // only its id was kept, so it has no method (a refused parameter of a method's request has one).
  if (error.kind === 'bad_frame' && frame.method === undefined)
    return { id: frame.id, success: false, error: errorText(error) };
  if (error.kind === 'unknown_type') {
    const method = frame.method;
    const text = typeof method === 'string' ? `Unknown method: ${method}` : 'Invalid JSON: method must be a string';
    return { id: frame.id, success: false, error: text };
  }
  return { id: frame.id, success: false, error: error.message };
}

function errorText(error: RealtimeError): string {
  if (error.kind !== 'bad_frame') return error.message;
  return error.message === 'Invalid JSON' ? 'Invalid JSON: not a JSON text' : `Invalid JSON: ${error.message}`;
}

/** Seed 003's refusals answer the request id `init`; a full server closes with 1013. */
function refusal(error: RealtimeError): Refusal {
  if (error.kind !== 'capacity')
    return { frame: initError(error.message), code: refusalCode(error), reason: error.message };
  return { frame: initError('Server at capacity'), code: CloseCode.TRY_AGAIN_LATER, reason: 'Server at capacity' };
}

const initError = (error: string): RpcResponse => ({ id: 'init', success: false, error });

/**
 * The checkpoint gateway (seed 003, SPEC.md §5) on `/ws/checkpoints`: JSON-RPC requests
 * `{id, method, params}`; a connection may come without a token and `authenticate` later.
 */
export const CHECKPOINT_GATEWAY: GatewayDefinition = {
  gateway: 'checkpoint',
  paths: ['/ws/checkpoints'],
  contract: CHECKPOINT_CONTRACT,
  allowsAnonymous: true,
  unauthenticatedFrameLimit: 8 * 1024,
  answersEveryRequest: true,
  limits: (options: { checkpoint?: CheckpointOptions }) => ({
    total: resolveCheckpointConfig(options).maxConnections,
  }),
  // A frame without a string id cannot be answered under its id: it is treated as unreadable.
  messageKey: (frame: InboundFrame) =>
    typeof frame.id === 'string' && typeof frame.method === 'string' ? frame.method : undefined,
  errorFrame,
  refusal,
  tokenRefresh: CHECKPOINT_TOKEN_REFRESH,
};
