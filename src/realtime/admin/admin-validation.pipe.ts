import { ValidationPipe } from '@nestjs/common';

/** Admin bodies and queries: unknown fields refused, values converted, 400 with the reasons. */
export const adminValidationPipe = new ValidationPipe({ whitelist: true, transform: true, forbidNonWhitelisted: true });
