export { ApiDocsController } from './api-docs.controller.js';
export { ApiDocsSwitch } from './api-docs-switch.js';
export { AsyncApiController } from './asyncapi.controller.js';
export { CONTRACT_VERSION } from './contract-version.js';
export { OpenApiDocument } from './openapi-document.service.js';
