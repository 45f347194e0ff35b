import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';

/** The methods of the platform's response used here (Express and Fastify both have them). */
interface HeaderWritable {
  removeHeader?(name: string): void;
  setHeader?(name: string, value: string): void;
  header?(name: string, value: string): void;
}

/**
 * Every REST answer of the module: no `X-Powered-By` (whatever the host's platform adds), no
 * sniffing, no caching of admin data.
 */
@Injectable()
export class SecurityHeadersInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const response = context.switchToHttp().getResponse<HeaderWritable>();
    response.removeHeader?.('X-Powered-By');
    const set = (name: string, value: string): void =>
      response.setHeader ? response.setHeader(name, value) : response.header?.(name, value);
    set('X-Content-Type-Options', 'nosniff');
    set('Cache-Control', 'no-store');
    return next.handle();
  }
}
