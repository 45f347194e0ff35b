import {
  Inject,
  Injectable,
  ValidationPipe,
  type ArgumentMetadata,
  type PipeTransform,
  type ValidationError,
} from '@nestjs/common';
import { RealtimeError } from '../core/gateway/index.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';

/**
 * Admin bodies and queries: nested no deeper than `maxJsonDepth` (checked without recursion,
 * before class-transformer walks them), unknown fields refused, values converted; 400 with the reasons.
 */
@Injectable()
export class AdminValidationPipe implements PipeTransform {
  private readonly validation = new ValidationPipe({
    whitelist: true,
    transform: true,
    forbidNonWhitelisted: true,
    exceptionFactory: (errors) => RealtimeError.invalid(errors.flatMap((error) => reasonsOf(error))),
  });

  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (depthOf(value, this.config.maxJsonDepth) > this.config.maxJsonDepth) {
      throw RealtimeError.invalid([`body nested deeper than ${this.config.maxJsonDepth}`]);
    }
    return this.validation.transform(value, metadata);
  }
}

/** class-validator's failures as Nest's ValidationPipe words them (`path.to.field must be …`). */
function reasonsOf(error: ValidationError, parent = ''): string[] {
  const own = Object.values(error.constraints ?? {}).map((reason) => (parent ? `${parent}.${reason}` : reason));
  const path = parent ? `${parent}.${error.property}` : error.property;
  return [...own, ...(error.children ?? []).flatMap((child) => reasonsOf(child, path))];
}

/** The nesting depth of `value`, counted iteratively, stopping once past `limit`. */
function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}
