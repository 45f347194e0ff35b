import { Inject, Injectable, type Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { DocumentBuilder, getSchemaPath, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { PUBLISH_TARGETS, type PublishTarget } from '../core/gateway/index.js';
import { ApplicationRef } from '../core/transport/index.js';
import { ADMIN_SECURITY } from '../http/index.js';
import { CONTRACT_VERSION } from './contract-version.js';

/**
 * The OpenAPI document of the module's REST API (the admin API, health, publish, send-message),
 * built by `@nestjs/swagger` from the controllers and DTOs, once, on first request. Scanning needs
 * the application, which `RealtimeWsAdapter` hands over (`ApplicationRef`); the host's own routes are left out.
 */
@Injectable()
export class OpenApiDocument {
  private built?: OpenAPIObject;

  constructor(
    private readonly modules: ModulesContainer,
    private readonly application: ApplicationRef,
    @Inject(PUBLISH_TARGETS) private readonly targets: PublishTarget[],
  ) {}

  /** The document, or undefined before the adapter attached the application. */
  document(ownController: Type<unknown>): OpenAPIObject | undefined {
    const app = this.application.app;
    if (this.built || !app) return this.built;
    const own = [...this.modules.values()].find((module) => module.controllers.has(ownController));
    const config = new DocumentBuilder()
      .setTitle('Realtime admin API')
      .setDescription(
        'REST side of the realtime gateways: health, connect tickets, stats, clients, history, publish, send-message, metrics. ' +
          'Admin routes take `Authorization: Bearer <WS admin token or admin-role JWT>`.',
      )
      .setVersion(CONTRACT_VERSION)
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'The admin token or a JWT with role admin' },
        ADMIN_SECURITY,
      )
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          description: "A user's JWT (or the host authenticator's own credential, e.g. a session cookie)",
        },
        'user',
      )
      .build();
    this.built = SwaggerModule.createDocument(app, config, {
      include: own ? [own.metatype as Type<unknown>] : [],
      extraModels: this.targets.map((target) => target.bodyType),
      operationIdFactory: (controllerKey, methodKey) => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
    });
    this.describePublishBody(this.built);
    return this.built;
  }

  /** `POST /ws/publish` takes the body of any registered publish target, named by `gateway` or by its shape. */
  private describePublishBody(document: OpenAPIObject): void {
    const path = Object.keys(document.paths).find((key) => key.endsWith('/ws/publish'));
    const operation = path ? document.paths[path].post : undefined;
    if (!operation) return;
    operation.requestBody = {
      required: true,
      content: {
        'application/json': {
          schema: {
            oneOf: this.targets.map((target) => ({
              allOf: [
                { $ref: getSchemaPath(target.bodyType) },
                {
                  type: 'object',
                  description: `A ${target.gateway} event: \`gateway\` may be left out when the body has \`${target.marker}\``,
                  properties: { gateway: { type: 'string', enum: [target.gateway] } },
                },
              ],
            })),
          },
        },
      },
    };
  }
}
