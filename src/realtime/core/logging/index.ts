export { BatchingConsoleLogger } from './batching-console-logger.js';
export { LifecycleLog } from './lifecycle-log.js';
export { redactUrl } from './redact.js';
export { escapeControl } from './lifecycle-log.js';
export { RefusalLog } from './refusal-log.js';
