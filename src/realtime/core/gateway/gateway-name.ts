/**
 * A gateway's name, as its definition registers it (`chat`, `scheduler`, a host's own): a label in
 * admin views, metrics, bus messages and Redis keys. `GatewayCatalog` lists the registered ones.
 * @publicApi
 */
export type { GatewayName } from '../../bus/event-bus.js';

/** What a gateway's name may be: it appears in URLs, metric labels and Redis keys. */
export const GATEWAY_NAME_FORMAT = /^[a-z][a-z0-9_-]{0,31}$/;
