export { asyncApiDocument, type AsyncApiInfo } from './asyncapi-document.js';
export type { GatewayContract, JsonSchema, MessageContract } from './gateway-contract.js';
