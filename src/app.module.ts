import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { validateEnvironment } from './config/environment.js';
import { realtimeOptionsFromEnv } from './config/realtime-options.factory.js';
import { NotifyInboundLogger } from './notify-inbound.logger.js';
import { RealtimeModule } from './realtime/index.js';

/** The standalone app: the realtime module configured from environment variables. */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, validate: validateEnvironment }),
    RealtimeModule.forRootAsync({ inject: [ConfigService], useFactory: realtimeOptionsFromEnv }),
  ],
  providers: [NotifyInboundLogger],
})
export class AppModule {}
