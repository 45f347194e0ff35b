import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Delete, Get, Param, Query, UsePipes } from '@nestjs/common';
import { ClusterView } from '../core/cluster/index.js';
import { CloseCode, GatewayCatalog, RealtimeError } from '../core/gateway/index.js';
import { ConnectionRegistry, Fanout, type ClientDescriptor } from '../core/registry/index.js';
import { AdminOnly, AdminValidationPipe, ErrorBody, RealtimeController } from '../http/index.js';
import { ListClientsQueryDto } from './admin.dto.js';
import { RealtimeStats } from './realtime-stats.service.js';

/** `GET /ws/stats`, `GET|DELETE /ws/clients…`: the admin views (admin credentials required). */
@RealtimeController('ws')
@ApiTags('admin')
@AdminOnly()
@UsePipes(AdminValidationPipe)
export class ClientsController {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly stats: RealtimeStats,
    private readonly fanout: Fanout,
    private readonly cluster: ClusterView,
    private readonly catalog: GatewayCatalog,
  ) {}

  @Get('stats')
  @ApiOkResponse({ description: "This instance's and the cluster's connections, messages and rooms, per gateway" })
  getStats(): Promise<Record<string, unknown>> {
    return this.stats.stats();
  }

  /** Every instance's clients, oldest first; `next_cursor` resumes after the last one returned. */
  @Get('clients')
  @ApiOkResponse({ description: 'A page of clients of every instance: `{clients, total, next_cursor}`' })
  @ApiBadRequestResponse({ description: 'A bad query', type: ErrorBody })
  async list(@Query() query: ListClientsQueryDto): Promise<Record<string, unknown>> {
    if (query.gateway !== undefined) this.catalog.require(query.gateway);
    const matching = (await this.stats.clusterClients())
      .filter((client) => query.gateway === undefined || client.gateway === query.gateway)
      .filter((client) => query.user === undefined || String(client.user_id) === query.user)
      .sort((a, b) => orderKey(a).localeCompare(orderKey(b)));
    const after = query.cursor === undefined ? '' : Buffer.from(query.cursor, 'base64url').toString();
    const start = after ? matching.findIndex((client) => orderKey(client) > after) : 0;
    const page = start < 0 ? [] : matching.slice(start, start + query.limit);
    const hasMore = start >= 0 && start + query.limit < matching.length;
    return {
      clients: page,
      total: matching.length,
      next_cursor: hasMore ? Buffer.from(orderKey(page[page.length - 1])).toString('base64url') : null,
    };
  }

  @Get('clients/:clientId')
  @ApiOkResponse({ description: 'The client, on whichever instance holds it' })
  @ApiNotFoundResponse({ description: 'No instance holds it', type: ErrorBody })
  async get(@Param('clientId') clientId: string): Promise<ClientDescriptor> {
    const local = this.registry.get(clientId);
    return local ? this.stats.describe(local, true) : this.findElsewhere(clientId);
  }

  /** Closes the client with 4000 on whichever instance holds it. */
  @Delete('clients/:clientId')
  @ApiOkResponse({ description: 'Closed with 4000 `Disconnected by administrator`: `{disconnected: true, id}`' })
  @ApiNotFoundResponse({ description: 'No instance holds it', type: ErrorBody })
  async disconnect(@Param('clientId') clientId: string): Promise<Record<string, unknown>> {
    const local = this.registry.get(clientId);
    if (local) {
      local.close(CloseCode.ADMIN_DISCONNECT, 'Disconnected by administrator');
      return { disconnected: true, id: clientId };
    }
    await this.findElsewhere(clientId);
    this.fanout.disconnect(clientId, CloseCode.ADMIN_DISCONNECT, 'Disconnected by administrator');
    return { disconnected: true, id: clientId };
  }

  /**
   * The client on another instance. One that connected a moment ago may not be in the cluster view
   * yet (its instance publishes its list 50–250 ms after a change): 404 only once the view has had
   * time to show it.
   */
  private async findElsewhere(clientId: string): Promise<ClientDescriptor> {
    const deadline = Date.now() + this.cluster.settleMs;
    for (;;) {
      const client = (await this.stats.clusterClients()).find((candidate) => candidate.id === clientId);
      if (client) return client;
      if (Date.now() >= deadline) throw RealtimeError.notFound(`No client ${clientId}`);
      await new Promise((resolve) => setTimeout(resolve, VIEW_POLL_MS));
    }
  }
}

const VIEW_POLL_MS = 50;

const orderKey = (client: ClientDescriptor): string => `${client.connected_at}|${client.id}`;
