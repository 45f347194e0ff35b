import { Get, Req } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import { asyncApiDocument } from '../core/contract/index.js';
import { GatewayCatalog } from '../core/gateway/index.js';
import { clipClientString } from '../core/text/index.js';
import { AdminOnly, RealtimeController } from '../http/index.js';
import { ApiDocsSwitch } from './api-docs-switch.js';
import { CONTRACT_VERSION } from './contract-version.js';

/**
 * `GET /ws/asyncapi.json`: the AsyncAPI 3 document of every registered gateway, a host's own
 * included, generated from their contracts (admin credentials required).
 */
@RealtimeController('ws')
@ApiTags('documents')
@AdminOnly()
export class AsyncApiController {
  constructor(
    private readonly catalog: GatewayCatalog,
    private readonly docs: ApiDocsSwitch,
  ) {}

  @Get('asyncapi.json')
  @ApiOkResponse({ description: 'The AsyncAPI 3 document of every registered gateway' })
  document(@Req() request: IncomingMessage): Record<string, unknown> {
    this.docs.ensureOn();
    const secure = (request.socket as { encrypted?: boolean }).encrypted === true;
    return asyncApiDocument(this.catalog.definitions, {
      title: 'Realtime gateways',
      version: CONTRACT_VERSION,
      description: 'The WebSocket gateways of this server: frames, errors, close codes and stream positions.',
      host: clipClientString(request.headers.host ?? 'localhost'),
      protocol: secure ? 'wss' : 'ws',
    });
  }
}
