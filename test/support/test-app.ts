import { ConsoleLogger, type INestApplication, type ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import type WebSocket from 'ws';
import { RealtimeModule, RealtimeWsAdapter, type RealtimeModuleOptions } from '../../src/realtime/index.js';
import { useContract } from './frame-contract.js';
import { TestClient } from './test-client.js';
import { hsToken, TEST_SECRET, type Claims } from './tokens.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Modules of the host app besides the realtime module (e.g. a host's own gateway). */
export type HostImports = NonNullable<ModuleMetadata['imports']>;

export interface TestApp {
  app: INestApplication;
  port: number;
  baseUrl: string;
  wsUrl(path: string, token?: string): string;
  /** Opens a chat connection for `claims` (token in the query string) and waits for its welcome. */
  chat(claims: Claims): Promise<TestClient>;
  http(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown },
  ): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/**
 * The realtime module on an ephemeral port, configured like a host app would. `logLines`: every log
 * line (connects, security events) reaches stdout, where `captureOutput()` reads it; otherwise Nest's
 * testing logger drops all but errors.
 */
export async function startTestApp(
  options: RealtimeModuleOptions = {},
  imports: HostImports = [],
  { logLines = false }: { logLines?: boolean } = {},
): Promise<TestApp> {
  const builder = Test.createTestingModule({
    imports: [
      // No drain on close (SPEC §9's waves are tested where they are the subject).
      RealtimeModule.forRoot({
        auth: { secret: TEST_SECRET },
        adminToken: ADMIN_TOKEN,
        shutdownDrainSec: 0,
        ...options,
      }),
      ...imports,
    ],
  });
  if (logLines) builder.setLogger(new ConsoleLogger('Test', { colors: false }));
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger: logLines ? ['log', 'error', 'warn'] : ['error', 'warn'] });
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const t = wrap(app);
  // From now on the clients' frames are checked against what this app serves (its host gateways included).
  const contract = await t.http('GET', '/ws/asyncapi.json', { token: ADMIN_TOKEN });
  if (contract.status === 200) useContract(contract.body);
  return t;
}

export function wrap(app: INestApplication): TestApp {
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, port, ...endpoints(port), close: () => app.close() };
}

/** How a test reaches an instance listening on `port` of loopback, in-process or not. */
export type Endpoints = Pick<TestApp, 'baseUrl' | 'wsUrl' | 'chat' | 'http'>;

export function endpoints(port: number): Endpoints {
  const baseUrl = `http://127.0.0.1:${port}`;
  const wsUrl = (path: string, token?: string): string =>
    `ws://127.0.0.1:${port}${path}${token ? `${path.includes('?') ? '&' : '?'}token=${token}` : ''}`;
  return {
    baseUrl,
    wsUrl,
    async chat(claims: Claims) {
      const client = await TestClient.open(wsUrl('/api/v1/ws/connect', hsToken(claims)));
      await client.nextOfType('connected');
      return client;
    },
    async http(method, path, { token, body } = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: response.status, body: parsed };
    },
  };
}

/** Client options, and whether the token goes in the `authorization` header instead of the query string. */
export type TokenOptions = WebSocket.ClientOptions & { viaHeader?: boolean };

/** Opens `path` with a token for `claims`: in the query string, or in the header with `viaHeader`. */
export function openWithToken(
  t: Endpoints,
  path: string,
  claims: Claims,
  options: TokenOptions = {},
): Promise<TestClient> {
  const { viaHeader, ...clientOptions } = options;
  const token = hsToken(claims);
  return viaHeader
    ? TestClient.open(t.wsUrl(path), {
        ...clientOptions,
        headers: { ...clientOptions.headers, authorization: `Bearer ${token}` },
      })
    : TestClient.open(t.wsUrl(path, token), clientOptions);
}
