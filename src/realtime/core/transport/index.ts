export { Connection } from './connection.js';
export type { FrameHandler } from './inbound-pipeline.js';
export { PreparedFrame } from './prepared-frame.js';
export { RealtimeTransport } from './realtime-transport.service.js';
export { RealtimeWsAdapter } from './realtime-ws.adapter.js';
export { GatewayTraffic } from './gateway-traffic.js';
export { TrafficStats } from './traffic-stats.service.js';
export { ClientAddress } from './client-address.service.js';
export { ApplicationRef } from './application-ref.js';
