import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Get, Res } from '@nestjs/common';
import { RealtimeStats } from './realtime-stats.service.js';
import { RealtimeController } from '../http/index.js';

/** The one method of the platform's response used here (Express and Fastify both have it). */
interface StatusSettable {
  status(code: number): unknown;
}

/** `GET /ws/health`: open to load balancers; 503 only while shutting down. */
@RealtimeController('ws')
@ApiTags('health')
export class HealthController {
  constructor(private readonly stats: RealtimeStats) {}

  @Get('health')
  @ApiOkResponse({ description: '`{status, bus, redis, connections, uptime}`; open to load balancers' })
  @ApiServiceUnavailableResponse({ description: 'Shutting down: stop routing here' })
  health(@Res({ passthrough: true }) response: StatusSettable): Record<string, unknown> {
    const health = this.stats.health();
    response.status(health.status === 'shutting_down' ? 503 : 200);
    return health;
  }
}
