export { LifecycleLog } from './lifecycle-log.js';
export { redactUrl } from './redact.js';
