// What the benchmarks share: the signing secret, a token per user, and the module in a Nest app on a free port.
import 'reflect-metadata';
import { createHmac } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { RealtimeModule, RealtimeWsAdapter } from '../dist/realtime/index.js';

const SECRET = 'bench-secret-0123456789-0123456789-0123';

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An HS256 token for `sub`, valid for an hour. */
export function token(sub) {
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${unsigned}.${createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
}

/** `RealtimeModule.forRoot(options)` (with the bench secret) listening on 127.0.0.1:<free port>. */
export async function startBenchApp(options) {
  class BenchModule {}
  Module({ imports: [RealtimeModule.forRoot({ auth: { secret: SECRET }, ...options })] })(BenchModule);
  const app = await NestFactory.create(BenchModule, { logger: ['error'] });
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  await app.listen(0, '127.0.0.1');
  return app;
}
