// What the benchmarks share: the signing secret, a token per user, and the module in a Nest app on a free port.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { RealtimeModule, RealtimeWsAdapter } from '../dist/realtime/index.js';
import { token as signed } from './token.mjs';

const SECRET = 'bench-secret-0123456789-0123456789-0123';

/** An HS256 token for `sub` that the bench app accepts, valid for an hour. */
export const token = (sub) => signed(sub, SECRET);

/** `RealtimeModule.forRoot(options)` (with the bench secret) listening on 127.0.0.1:<free port>. */
export async function startBenchApp(options) {
  class BenchModule {}
  Module({ imports: [RealtimeModule.forRoot({ auth: { secret: SECRET }, ...options })] })(BenchModule);
  const app = await NestFactory.create(BenchModule, { logger: ['error'] });
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  await app.listen(0, '127.0.0.1');
  return app;
}

/** Resolves at the next frame of `type` that `ws` receives. */
export function nextOfType(ws, type) {
  return new Promise((resolve) => {
    const onMessage = (data) => {
      if (JSON.parse(String(data)).type !== type) return;
      ws.off('message', onMessage);
      resolve();
    };
    ws.on('message', onMessage);
  });
}
