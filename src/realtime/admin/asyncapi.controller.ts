import { Get, Req, UseGuards } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { asyncApiDocument } from '../core/contract/index.js';
import { GatewayCatalog } from '../core/gateway/index.js';
import { clipClientString } from '../core/text/index.js';
import { AdminAuthGuard, RealtimeController } from '../http/index.js';

/** The version of the wire contract the document describes; it follows the package's. */
export const CONTRACT_VERSION = '0.1.0';

/**
 * `GET /ws/asyncapi.json`: the AsyncAPI 3 document of every registered gateway, a host's own
 * included, generated from their contracts (admin credentials required).
 */
@RealtimeController('ws')
@UseGuards(AdminAuthGuard)
export class AsyncApiController {
  constructor(private readonly catalog: GatewayCatalog) {}

  @Get('asyncapi.json')
  document(@Req() request: IncomingMessage): Record<string, unknown> {
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
