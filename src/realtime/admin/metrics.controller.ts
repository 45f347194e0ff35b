import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Get, Header, Res } from '@nestjs/common';
import { RealtimeMetrics } from './realtime-metrics.service.js';
import { RealtimeController } from '../http/index.js';

/** The one method of the platform's response used here (Express and Fastify both have it). */
interface TypeSettable {
  type(contentType: string): unknown;
}

/**
 * `GET /metrics`: Prometheus text format. Open like a health check (it holds counts, no
 * identities): keep it on an internal network, as one does with Centrifugo's.
 */
@RealtimeController()
@ApiTags('metrics')
export class MetricsController {
  constructor(private readonly metrics: RealtimeMetrics) {}

  @Get('metrics')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format', schema: { type: 'string' } })
  @Header('Cache-Control', 'no-store')
  async scrape(@Res({ passthrough: true }) response: TypeSettable): Promise<string> {
    response.type(this.metrics.contentType);
    return this.metrics.text();
  }
}
