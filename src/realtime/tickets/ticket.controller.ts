import { Header, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import { Authentication, bearerToken, ConnectTickets } from '../core/auth/index.js';
import { ClientAddress } from '../core/transport/index.js';
import { ErrorBody, RealtimeController } from '../http/index.js';

/** `POST /ws/ticket`'s answer. */
export class ConnectTicketBody {
  @ApiProperty({
    description: 'Use once as `?ticket=` on any gateway path, on any instance',
    example: 'kq3X…(43 characters)',
  })
  ticket!: string;
  @ApiProperty({ description: 'Seconds the ticket stays valid', example: 30 })
  expires_in!: number;
}

/**
 * `POST /ws/ticket`: a one-time connect ticket for whoever authenticates like an upgrade (a bearer
 * JWT, or the host authenticator: a session cookie…), so that a browser never puts a token in a
 * WebSocket URL. The ticket is bound to that principal and used up by its first upgrade.
 */
@RealtimeController('ws')
@ApiTags('auth')
export class TicketController {
  constructor(
    private readonly authentication: Authentication,
    private readonly tickets: ConnectTickets,
    private readonly address: ClientAddress,
  ) {}

  @Post('ticket')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiBearerAuth('user')
  @ApiOkResponse({ type: ConnectTicketBody })
  @ApiUnauthorizedResponse({ type: ErrorBody, description: 'No credential, or one the authenticator refused' })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'The authenticator or the ticket store failed' })
  async issue(@Req() request: IncomingMessage): Promise<ConnectTicketBody> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const outcome = await this.authentication.authenticate({
      source: 'http',
      headers: request.headers,
      ip: this.address.of(request),
      path: url.pathname,
      query: url.searchParams,
      token: bearerToken(request.headers.authorization),
    });
    if (outcome.error) throw outcome.error;
    const { ticket, expiresIn } = await this.tickets.issue(outcome.principal);
    return { ticket, expires_in: expiresIn };
  }
}
