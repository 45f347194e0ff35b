import { Get, Header, Param, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { RealtimeError } from '../core/gateway/index.js';
import { AdminOnly, RealtimeController } from '../http/index.js';
import { ApiDocsSwitch } from './api-docs-switch.js';
import { OpenApiDocument } from './openapi-document.service.js';
import { DOCS_CONTENT_SECURITY_POLICY, DOCS_PAGE, docsAsset } from './swagger-ui.page.js';

/** The one method of the platform's response used here (Express and Fastify both have it). */
interface HeaderSettable {
  setHeader(name: string, value: string): unknown;
}

/**
 * `GET /ws/docs-json`: the OpenAPI document of the REST API (admin credentials required);
 * `GET /ws/docs`: Swagger UI on it. The page holds no data: it sends the admin token with every
 * request, like the dashboard, and the document itself stays behind the credentials.
 */
@RealtimeController('ws')
@ApiTags('documents')
export class ApiDocsController {
  constructor(
    private readonly openApi: OpenApiDocument,
    private readonly docs: ApiDocsSwitch,
  ) {}

  @Get('docs-json')
  @AdminOnly()
  @ApiOkResponse({ description: 'This OpenAPI document' })
  document(): object {
    this.docs.ensureOn();
    const document = this.openApi.document(ApiDocsController);
    if (!document) throw new RealtimeError('internal', 'Install RealtimeWsAdapter on the application for OpenAPI');
    return document;
  }

  @Get('docs')
  @ApiExcludeEndpoint()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', DOCS_CONTENT_SECURITY_POLICY)
  @Header('X-Frame-Options', 'DENY')
  page(): string {
    this.docs.ensureOn();
    return DOCS_PAGE;
  }

  @Get('docs/:asset')
  @ApiExcludeEndpoint()
  asset(@Param('asset') name: string, @Res({ passthrough: true }) response: HeaderSettable): string {
    this.docs.ensureOn();
    const asset = docsAsset(name);
    if (!asset) throw RealtimeError.notFound(`No asset ${name}`);
    response.setHeader('Content-Type', asset.contentType);
    return asset.body;
  }
}
