import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { validateEnvironment } from './config/environment.js';
import { BatchingConsoleLogger, GatewayCatalog, RealtimeWsAdapter } from './realtime/index.js';

async function bootstrap(): Promise<void> {
  const logger = new BatchingConsoleLogger('Realtime', { json: process.env.LOG_FORMAT === 'json' });
  // Validated first, so that a configuration error is one line naming the variable, not a stack.
  const env = validateEnvironment(process.env);
  const { AppModule } = await import('./app.module.js');
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger });
  app.disable('x-powered-by');
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // SPEC.md §9: health 503 and the drain (WS_SHUTDOWN_DRAIN), then the bus; past WS_SHUTDOWN_TIMEOUT, exit anyway.
      Logger.log(`${signal}: shutting down`, 'Realtime');
      setTimeout(() => process.exit(1), env.WS_SHUTDOWN_TIMEOUT * 1000).unref();
      app.close().then(
        () => process.exit(0),
        (error: Error) => {
          console.error(`Shutdown failed: ${error.message}`);
          process.exit(1);
        },
      );
    });
  }
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '0.0.0.0';
  await app.listen(port, host);
  const gateways = app
    .get(GatewayCatalog)
    .definitions.map((definition) => `${definition.gateway} ${definition.paths.join(' ')}`)
    .join(', ');
  Logger.log(
    `Listening on http://${host}:${port}: ${gateways}; admin dashboard /ws/admin, API docs /ws/docs`,
    'Realtime',
  );
}

bootstrap().catch((error: Error) => {
  // A configuration error is the expected failure here: its message names the variable.
  console.error(`Start-up failed: ${error.message}`);
  process.exit(1);
});
