import { Module, type Provider } from '@nestjs/common';
import { ClientsController } from './admin/clients.controller.js';
import { AdminAuthGuard } from './admin/admin-auth.guard.js';
import { HealthController } from './admin/health.controller.js';
import { PublishController } from './admin/publish.controller.js';
import { RealtimeStats } from './admin/realtime-stats.service.js';
import { EventBusLifecycle } from './bus/event-bus.lifecycle.js';
import { eventBusProvider } from './bus/event-bus.provider.js';
import { EVENT_BUS } from './bus/event-bus.js';
import { ChatGateway } from './chat/chat.gateway.js';
import { ChatPublisher } from './chat/chat.publisher.js';
import { ChatService } from './chat/chat.service.js';
import { ACCESS_POLICY, DefaultAccessPolicy } from './core/access-policy.js';
import { ClusterView } from './core/cluster-view.service.js';
import { ConnectionRegistry } from './core/connection-registry.service.js';
import { Fanout } from './core/fanout.service.js';
import { RealtimeTransport } from './core/realtime-transport.service.js';
import { TokenVerifier } from './core/token-verifier.service.js';
import { TrafficStats } from './core/traffic-stats.service.js';
import { UpgradeAuthGuard } from './core/upgrade-auth.guard.js';
import { REALTIME_CONFIG, resolveRealtimeConfig, type RealtimeConfig } from './realtime.config.js';
import { ConfigurableRealtimeModule, REALTIME_MODULE_OPTIONS } from './realtime.module-definition.js';
import type { RealtimeModuleOptions } from './realtime.options.js';

const configProvider: Provider = {
  provide: REALTIME_CONFIG,
  inject: [REALTIME_MODULE_OPTIONS],
  useFactory: (options: RealtimeModuleOptions): RealtimeConfig => resolveRealtimeConfig(options),
};

const accessPolicyProvider: Provider = {
  provide: ACCESS_POLICY,
  inject: [REALTIME_MODULE_OPTIONS, REALTIME_CONFIG],
  useFactory: (options: RealtimeModuleOptions, config: RealtimeConfig) =>
    options.accessPolicy ?? new DefaultAccessPolicy(config),
};

/**
 * The realtime gateways of SPEC.md on the host's HTTP server. Import it with
 * `RealtimeModule.forRoot(options)` or `RealtimeModule.forRootAsync({ useFactory, inject, imports })`
 * and install `RealtimeWsAdapter` on the application.
 */
@Module({
  controllers: [HealthController, ClientsController, PublishController],
  providers: [
    configProvider,
    accessPolicyProvider,
    eventBusProvider,
    EventBusLifecycle,
    TokenVerifier,
    UpgradeAuthGuard,
    ConnectionRegistry,
    ClusterView,
    TrafficStats,
    Fanout,
    RealtimeTransport,
    RealtimeStats,
    AdminAuthGuard,
    ChatService,
    ChatPublisher,
    ChatGateway,
  ],
  exports: [
    ChatPublisher,
    ConnectionRegistry,
    ACCESS_POLICY,
    EVENT_BUS,
    REALTIME_CONFIG,
    TokenVerifier,
    RealtimeTransport,
  ],
})
export class RealtimeModule extends ConfigurableRealtimeModule {}
