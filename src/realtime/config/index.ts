export { REALTIME_CONFIG, type RealtimeConfig } from './realtime-config.js';
