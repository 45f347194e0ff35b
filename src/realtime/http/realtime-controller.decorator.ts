import { applyDecorators, Controller, UseInterceptors } from '@nestjs/common';
import { SecurityHeadersInterceptor } from './security-headers.interceptor.js';

/** A REST controller of the module: its routes under `path`, with the module's response headers. */
export const RealtimeController = (path = ''): ClassDecorator =>
  applyDecorators(Controller(path), UseInterceptors(SecurityHeadersInterceptor));
