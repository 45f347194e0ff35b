import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { AdminAuthGuard } from './admin-auth.guard.js';
import { ErrorBody } from './error-body.js';

/** The OpenAPI security scheme of the admin routes. */
export const ADMIN_SECURITY = 'admin';

/**
 * A controller (or route) of the admin API: `AdminAuthGuard` at its door (401 without credentials,
 * 403 without the admin role), and the same said in the OpenAPI document.
 */
export const AdminOnly = (): ClassDecorator & MethodDecorator =>
  applyDecorators(
    UseGuards(AdminAuthGuard),
    ApiBearerAuth(ADMIN_SECURITY),
    ApiUnauthorizedResponse({ description: 'No credentials, or a bad token', type: ErrorBody }),
    ApiForbiddenResponse({ description: 'A JWT without the admin role', type: ErrorBody }),
  );
