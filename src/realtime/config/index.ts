export { REALTIME_CONFIG, type JwksSettings, type RealtimeConfig } from './realtime-config.js';
