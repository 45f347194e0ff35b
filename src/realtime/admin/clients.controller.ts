import {
  Controller,
  Delete,
  Get,
  NotFoundException,
  Param,
  Query,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { ConnectionRegistry } from '../core/connection-registry.service.js';
import { CloseCode } from '../core/realtime-error.js';
import { AdminAuthGuard } from './admin-auth.guard.js';
import { ListClientsQueryDto } from './admin.dto.js';
import { RealtimeStats } from './realtime-stats.service.js';

export const adminValidationPipe = new ValidationPipe({ whitelist: true, transform: true, forbidNonWhitelisted: true });

/** `GET /ws/stats`, `GET|DELETE /ws/clients…`: the admin views (admin credentials required). */
@Controller('ws')
@UseGuards(AdminAuthGuard)
@UsePipes(adminValidationPipe)
export class ClientsController {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly stats: RealtimeStats,
  ) {}

  @Get('stats')
  getStats(): Record<string, unknown> {
    return this.stats.stats();
  }

  @Get('clients')
  list(@Query() query: ListClientsQueryDto): Record<string, unknown> {
    const matching = this.registry.list({ gateway: query.gateway, user: query.user });
    const after = query.cursor === undefined ? 0 : Number(query.cursor);
    const start = matching.findIndex((connection) => connection.sequence > after);
    const page = start < 0 ? [] : matching.slice(start, start + query.limit);
    const hasMore = start >= 0 && start + query.limit < matching.length;
    return {
      clients: page.map((connection) => this.stats.describe(connection)),
      total: matching.length,
      next_cursor: hasMore ? String(page[page.length - 1].sequence) : null,
    };
  }

  @Get('clients/:clientId')
  get(@Param('clientId') clientId: string): Record<string, unknown> {
    return this.stats.describe(this.find(clientId));
  }

  @Delete('clients/:clientId')
  disconnect(@Param('clientId') clientId: string): Record<string, unknown> {
    this.find(clientId).close(CloseCode.ADMIN_DISCONNECT, 'Disconnected by administrator');
    return { disconnected: true, id: clientId };
  }

  private find(clientId: string) {
    const connection = this.registry.get(clientId);
    if (!connection) throw new NotFoundException(`No client ${clientId}`);
    return connection;
  }
}
