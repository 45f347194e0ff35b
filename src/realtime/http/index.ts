export { AdminAuthGuard } from './admin-auth.guard.js';
export { AdminCredentials } from './admin-credentials.service.js';
export { AdminBodyGate } from './admin-body-gate.js';
export { AdminValidationPipe } from './admin-validation.pipe.js';
export { RealtimeHttpExceptionFilter } from './realtime-http-exception.filter.js';
export { RealtimeController } from './realtime-controller.decorator.js';
export { SecurityHeadersInterceptor } from './security-headers.interceptor.js';
export { ADMIN_SECURITY, AdminOnly } from './admin-only.decorator.js';
export { ErrorBody } from './error-body.js';
