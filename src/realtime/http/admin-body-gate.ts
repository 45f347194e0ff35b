import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, HttpAdapterHost, MetadataScanner } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AdminAuthGuard } from './admin-auth.guard.js';
import type { RealtimeError } from '../core/gateway/index.js';
import { AdminCredentials } from './admin-credentials.service.js';
import { httpFailure } from './realtime-http-exception.filter.js';

/** Nest's RequestMethod values of the verbs that carry a body: POST, PUT, PATCH. */
const BODY_METHODS: Readonly<Record<number, string>> = { 1: 'POST', 2: 'PUT', 4: 'PATCH' };

/**
 * SPEC.md §10.1: admin credentials are checked before the body is read. For a request to an
 * admin route that takes a body, without valid credentials, the body is never read: its framing
 * headers are dropped (the body parser then skips it), the guard answers 401/403 as usual, and the
 * connection closes after that answer. Routes are found from the `AdminAuthGuard` on controllers.
 */
@Injectable()
export class AdminBodyGate implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly routes = new Set<string>();
  private server?: Server;
  private readonly listener = (request: IncomingMessage, response: ServerResponse): void =>
    this.inspect(request, response);

  constructor(
    private readonly credentials: AdminCredentials,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!type) continue;
      const guards = (Reflect.getMetadata(GUARDS_METADATA, type) as unknown[] | undefined) ?? [];
      if (!guards.includes(AdminAuthGuard)) continue;
      const base = normalize(Reflect.getMetadata(PATH_METADATA, type) as string | undefined);
      const prototype = type.prototype as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = (prototype as Record<string, unknown>)[name];
        const method: unknown =
          typeof handler === 'function' ? (Reflect.getMetadata(METHOD_METADATA, handler) as unknown) : undefined;
        if (typeof method !== 'number' || !(method in BODY_METHODS)) continue;
        const path = normalize(Reflect.getMetadata(PATH_METADATA, handler as object) as string | undefined);
        this.routes.add(routeKey(BODY_METHODS[method], `${base}${path}`));
      }
    }
    this.server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    this.server?.prependListener('request', this.listener);
  }

  onApplicationShutdown(): void {
    this.server?.off('request', this.listener);
  }

  private inspect(request: IncomingMessage, response: ServerResponse): void {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (!this.routes.has(routeKey(request.method ?? '', path))) return;
    const refusal = this.credentials.refusal(request);
    if (refusal instanceof Promise) return holdBody(request, response, refusal);
    if (!refusal) return;
    delete request.headers['content-length'];
    delete request.headers['transfer-encoding'];
    response.setHeader('Connection', 'close');
  }
}

/**
 * An asynchronous authenticator is still deciding: the body is not read meanwhile (a paused
 * request stays paused when the body parser listens). Allowed, it is read as usual; refused, the
 * refusal is answered here at once and the connection closed, the body never read (the parser's
 * wait ends with the socket, after the answer).
 */
function holdBody(
  request: IncomingMessage,
  response: ServerResponse,
  decision: Promise<RealtimeError | undefined>,
): void {
  request.pause();
  void decision.then((refusal) => {
    if (!refusal) return void request.resume();
    if (response.headersSent) return void request.socket.destroy();
    const { status, body } = httpFailure(refusal);
    const json = JSON.stringify(body);
    response.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(json),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
      Connection: 'close',
    });
    response.once('finish', () => request.socket.destroy());
    response.end(json);
  });
}

/** How Express matches a route: case aside, a trailing slash aside. */
function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.toLowerCase().replace(/\/+$/, '')}`;
}

/** A controller or route path as `/a/b` (or empty). */
function normalize(path: string | undefined): string {
  const trimmed = (path ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}
