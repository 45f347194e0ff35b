/**
 * The gateways of SPEC.md: the one list the admin filters, stats and cluster views use.
 * @publicApi
 */
export const GATEWAY_NAMES = ['chat', 'scheduler', 'checkpoint', 'notify'] as const;

/** @publicApi */
export type GatewayName = (typeof GATEWAY_NAMES)[number];
