import 'reflect-metadata';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { RealtimeWsAdapter } from './realtime/index.js';

/** Nest closes sockets and the bus on SIGTERM/SIGINT; this is the backstop of SPEC.md §9. */
const SHUTDOWN_DEADLINE_MS = 10_000;

async function bootstrap(): Promise<void> {
  const logger = new ConsoleLogger('Realtime', { json: process.env.LOG_FORMAT === 'json' });
  const app = await NestFactory.create(AppModule, { logger });
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref());
  }
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '0.0.0.0';
  await app.listen(port, host);
  Logger.log(`Listening on http://${host}:${port} (chat: ws://localhost:${port}/api/v1/ws/connect)`, 'Realtime');
}

bootstrap().catch((error: Error) => {
  // A configuration error is the expected failure here: its message names the variable.
  console.error(`Start-up failed: ${error.message}`);
  process.exit(1);
});
