import type { RealtimeFeature } from '../core/gateway/index.js';
import { CheckpointRequestGuard } from './checkpoint-request.guard.js';
import { CheckpointRpc } from './checkpoint-rpc.service.js';
import { checkpointStoreProvider } from './checkpoint-store.provider.js';
import { CheckpointGateway } from './checkpoint.gateway.js';
import { CheckpointService } from './checkpoint.service.js';

/** The checkpoint gateway as `RealtimeModule` registers it. */
export const CHECKPOINT_FEATURE: RealtimeFeature = {
  providers: [checkpointStoreProvider, CheckpointService, CheckpointRpc, CheckpointRequestGuard, CheckpointGateway],
  exports: [CheckpointService],
};
