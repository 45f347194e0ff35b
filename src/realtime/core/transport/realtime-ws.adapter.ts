import type { INestApplication } from '@nestjs/common';
import { AbstractWsAdapter, type MessageMappingProperties } from '@nestjs/websockets';
import type { Server } from 'node:http';
import type { Observable } from 'rxjs';
import type { GatewayName } from '../gateway/gateway-name.js';
import type { RealtimeGatewayOptions } from '../gateway/realtime-gateway.decorator.js';
import type { Connection } from './connection.js';
import type { GatewayServer } from './gateway-server.js';
import type { FrameHandler } from './inbound-pipeline.js';
import { ApplicationRef } from './application-ref.js';
import { RealtimeTransport } from './realtime-transport.service.js';

/**
 * The Nest WebSocket adapter of the realtime module, over `ws`: Nest's stock `WsAdapter`
 * matches exact paths only and parses `{event, data}` frames, while these gateways need path
 * parameters and their own wire formats. Install it with
 * `app.useWebSocketAdapter(new RealtimeWsAdapter(app))`. The work is done by `RealtimeTransport`.
 * @publicApi
 */
export class RealtimeWsAdapter extends AbstractWsAdapter {
  private transport?: RealtimeTransport;
  private readonly handlerKeys = new Map<GatewayName, ReadonlyMap<string, number>>();

  constructor(private readonly app: INestApplication) {
    super(app);
    // No response of the app says what it runs on (SPEC.md §10.1), errors of the body parser included.
    const platform = app.getHttpAdapter().getInstance() as { disable?(setting: string): void };
    platform.disable?.('x-powered-by');
    // What needs the whole application (the OpenAPI scan) finds it here: only the adapter is given it.
    app.get(ApplicationRef, { strict: false }).app = app;
  }

  create(port: number, options?: RealtimeGatewayOptions): GatewayServer {
    if (port !== 0 || !options?.definition) {
      throw new Error('Realtime gateways share the HTTP server: use @RealtimeGateway(definition) without a port');
    }
    const transport = this.resolveTransport();
    transport.attach(this.app.getHttpServer() as Server);
    return transport.registerGateway(options.definition);
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
    const transport = this.resolveTransport();
    const own = new Set(handlers.map((handler) => String(handler.message)));
    const all = [...handlers, ...transport.builtInHandlers(client).filter((builtIn) => !own.has(builtIn.message))];
    const callbacks = all.map((handler) => handler.callback as FrameHandler);
    transport.bindHandlers(client, { keys: this.keysOf(client.gateway, all), callbacks });
  }

  /** The gateway's key index, built at its first connection (Nest lists a gateway's handlers in one order). */
  private keysOf(gateway: GatewayName, handlers: ReadonlyArray<{ message: unknown }>): ReadonlyMap<string, number> {
    const known = this.handlerKeys.get(gateway);
    const same = known?.size === handlers.length && handlers.every((h, i) => known.get(String(h.message)) === i);
    if (known && same) return known;
    const keys = new Map(handlers.map((handler, index) => [String(handler.message), index]));
    this.handlerKeys.set(gateway, keys);
    return keys;
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
