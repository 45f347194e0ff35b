import { applyDecorators, Controller, UseFilters, UseInterceptors } from '@nestjs/common';
import { RealtimeHttpExceptionFilter } from './realtime-http-exception.filter.js';
import { SecurityHeadersInterceptor } from './security-headers.interceptor.js';

/** A REST controller of the module: its routes under `path`, with the module's response headers and error shape. */
export const RealtimeController = (path = ''): ClassDecorator =>
  applyDecorators(
    Controller(path),
    UseInterceptors(SecurityHeadersInterceptor),
    UseFilters(RealtimeHttpExceptionFilter),
  );
