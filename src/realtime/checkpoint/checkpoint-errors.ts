import { RealtimeError } from '../core/gateway/index.js';

/** Seed 003's words, and SPEC.md §5's for the storage bounds and an unreachable store. */
export const SESSION_NOT_FOUND = new RealtimeError('not_found', 'Session not found');
export const CHECKPOINT_NOT_FOUND = new RealtimeError('not_found', 'Checkpoint not found');
export const STATE_TOO_LARGE = new RealtimeError('capacity', 'State too large');
export const TOO_MANY_CHECKPOINTS = new RealtimeError('capacity', 'Too many checkpoints');
export const TOO_MANY_SESSIONS = new RealtimeError('capacity', 'Too many sessions');
export const STORAGE_QUOTA_EXCEEDED = new RealtimeError('capacity', 'Storage quota exceeded');
export const SERVICE_UNAVAILABLE = new RealtimeError('internal', 'Service unavailable');
