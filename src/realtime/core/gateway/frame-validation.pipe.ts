import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { RealtimeError } from './realtime-error.js';

function firstConstraint(errors: ValidationError[]): string {
  for (const error of errors) {
    const message = error.constraints ? Object.values(error.constraints)[0] : firstConstraint(error.children ?? []);
    if (message) return message;
  }
  return 'Invalid frame';
}

/** Validates a frame DTO; a failure is a `bad_frame` error worded by the gateway's protocol. */
export const frameValidationPipe = new ValidationPipe({
  exceptionFactory: (errors) => RealtimeError.badFrame(firstConstraint(errors)),
  validationError: { target: false, value: false },
});
