import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { RealtimeError } from './realtime-error.js';

function firstConstraint(errors: ValidationError[]): string {
  for (const error of errors) {
    const message = error.constraints ? Object.values(error.constraints)[0] : firstConstraint(error.children ?? []);
    if (message) return message;
  }
  return 'Invalid frame';
}

/**
 * Validates a frame DTO; a failure is a `bad_frame` error worded by the gateway's protocol. When
 * several fields fail, the one named first in `checkedFirst` is the one reported (a protocol that
 * promises which error comes first, e.g. seed 003's `Missing session_id parameter`).
 */
export function framePipe(checkedFirst: readonly string[] = []): ValidationPipe {
  return new ValidationPipe({
    exceptionFactory: (errors) => {
      const rank = (error: ValidationError): number => {
        const index = checkedFirst.indexOf(error.property);
        return index < 0 ? checkedFirst.length : index;
      };
      return RealtimeError.badFrame(firstConstraint([...errors].sort((a, b) => rank(a) - rank(b))));
    },
    validationError: { target: false, value: false },
  });
}

/** Validates a frame DTO; a failure is a `bad_frame` error worded by the gateway's protocol. */
export const frameValidationPipe = framePipe();
