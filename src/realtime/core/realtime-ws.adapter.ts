import type { INestApplication } from '@nestjs/common';
import { AbstractWsAdapter, type MessageMappingProperties } from '@nestjs/websockets';
import type { Server } from 'node:http';
import type { Observable } from 'rxjs';
import type { Connection } from './connection.js';
import type { GatewayProtocol } from './gateway-protocol.js';
import type { GatewayServer } from './gateway-server.js';
import { RealtimeTransport, type FrameHandler } from './realtime-transport.service.js';

/** The options every realtime gateway passes to `@WebSocketGateway` (see `RealtimeGateway`). */
export interface RealtimeGatewayOptions {
  /** Nest keys gateway servers by path; the real routes are in `GATEWAY_ROUTES`. */
  path: string;
  protocol: GatewayProtocol;
}

/**
 * The Nest WebSocket adapter of the realtime module, over `ws`: Nest's stock `WsAdapter`
 * matches exact paths only and parses `{event, data}` frames, while these gateways need path
 * parameters and their own wire formats. Install it with
 * `app.useWebSocketAdapter(new RealtimeWsAdapter(app))`. The work is done by `RealtimeTransport`.
 */
export class RealtimeWsAdapter extends AbstractWsAdapter {
  private transport?: RealtimeTransport;

  constructor(private readonly app: INestApplication) {
    super(app);
  }

  create(port: number, options?: RealtimeGatewayOptions): GatewayServer {
    if (port !== 0 || !options?.protocol) {
      throw new Error('Realtime gateways share the HTTP server: use @RealtimeGateway(protocol) without a port');
    }
    const transport = this.resolveTransport();
    transport.attach(this.app.getHttpServer() as Server);
    return transport.registerGateway(options.protocol);
  }

  override bindClientConnect(server: GatewayServer, callback: (...args: unknown[]) => void): void {
    server.on('connection', callback);
  }

  override bindClientDisconnect(client: Connection, callback: () => void): void {
    this.resolveTransport().onClose(client, callback);
  }

  bindMessageHandlers(
    client: Connection,
    handlers: MessageMappingProperties[],
    // Replies are sent by the transport, in the gateway's framing, not through Nest's transform.
    _transform: (data: unknown) => Observable<unknown>,
  ): void {
    const byKey = new Map<string, FrameHandler>();
    for (const handler of handlers) byKey.set(String(handler.message), handler.callback as FrameHandler);
    this.resolveTransport().bindHandlers(client, byKey);
  }

  override async close(server: GatewayServer): Promise<void> {
    server.close();
  }

  override async dispose(): Promise<void> {
    this.transport?.detach();
  }

  private resolveTransport(): RealtimeTransport {
    this.transport ??= this.app.get(RealtimeTransport, { strict: false });
    return this.transport;
  }
}
