export type { CheckpointEvent } from './checkpoint-events.js';
export { CHECKPOINT_FEATURE } from './checkpoint.feature.js';
export { isStaticTokenPrincipal } from './checkpoint-owner.js';
export type { CheckpointOptions } from './checkpoint.options.js';
export { CheckpointService } from './checkpoint.service.js';
export type { Checkpoint, CheckpointSession, CheckpointSummary } from './checkpoint-store.js';
