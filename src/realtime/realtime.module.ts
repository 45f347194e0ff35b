import { Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AdminAuthGuard, AdminBodyGate, AdminCredentials, AdminValidationPipe } from './http/index.js';
import { AdminDashboardController } from './admin/admin-dashboard.controller.js';
import { ApiDocsController, ApiDocsSwitch, AsyncApiController, OpenApiDocument } from './api-docs/index.js';
import { ClientsController } from './admin/clients.controller.js';
import { HealthController } from './admin/health.controller.js';
import { HistoryController } from './admin/history.controller.js';
import { MetricsController } from './admin/metrics.controller.js';
import { PublishController } from './admin/publish.controller.js';
import { RealtimeMetrics } from './admin/realtime-metrics.service.js';
import { RealtimeStats } from './admin/realtime-stats.service.js';
import { EVENT_BUS, EventBusLifecycle, eventBusProvider, StreamStyles } from './bus/index.js';
import {
  ACCESS_POLICY,
  Authentication,
  ConnectTickets,
  DefaultAccessPolicy,
  JwtAuthenticator,
  REALTIME_AUTHENTICATOR,
  ResourceAccess,
  ticketStoreProvider,
  TokenVerifier,
  UpgradeAuthenticator,
} from './core/auth/index.js';
import { TicketController } from './tickets/ticket.controller.js';
import { GatewayCatalog, PUBLISH_TARGETS, type RealtimeFeature } from './core/gateway/index.js';
import { ClusterPresence, ClusterView, UserSlots } from './core/cluster/index.js';
import { ConnectionRegistry, Fanout, RealtimeTopics, TopicLimit } from './core/registry/index.js';
import { ApplicationRef, ClientAddress, RealtimeTransport, TrafficStats } from './core/transport/index.js';
import { REALTIME_CONFIG, resolveRealtimeConfig, type RealtimeConfig } from './realtime.config.js';
import { ConfigurableRealtimeModule, REALTIME_MODULE_OPTIONS } from './realtime.module-definition.js';
import type { RealtimeModuleOptions } from './realtime.options.js';
import { RedisConnector } from './redis/index.js';
import { CHAT_FEATURE } from './chat/chat.feature.js';
import { SCHEDULER_FEATURE } from './scheduler/scheduler.feature.js';
import { CHECKPOINT_FEATURE } from './checkpoint/checkpoint.feature.js';
import { NOTIFY_FEATURE } from './notify/notify.feature.js';

/** The gateways served, each registered from its own folder. */
const FEATURES: RealtimeFeature[] = [CHAT_FEATURE, SCHEDULER_FEATURE, CHECKPOINT_FEATURE, NOTIFY_FEATURE];

const configProvider: Provider = {
  provide: REALTIME_CONFIG,
  inject: [REALTIME_MODULE_OPTIONS],
  useFactory: resolveRealtimeConfig,
};

const accessPolicyProvider: Provider = {
  provide: ACCESS_POLICY,
  inject: [REALTIME_MODULE_OPTIONS, REALTIME_CONFIG],
  useFactory: (options: RealtimeModuleOptions, config: RealtimeConfig) =>
    options.accessPolicy ?? new DefaultAccessPolicy(config),
};

const authenticatorProvider: Provider = {
  provide: REALTIME_AUTHENTICATOR,
  inject: [REALTIME_MODULE_OPTIONS, JwtAuthenticator],
  useFactory: (options: RealtimeModuleOptions, jwt: JwtAuthenticator) => {
    const auth = options.auth ?? {};
    if (!auth.authenticator && !auth.secret && !auth.publicKey && !auth.jwksUrl) {
      throw new Error('Realtime auth needs a JWT secret, a public key, a JWKS URL or an authenticator');
    }
    return auth.authenticator ?? jwt;
  },
};

const publishTargetsProvider: Provider = {
  provide: PUBLISH_TARGETS,
  inject: FEATURES.flatMap((feature) => feature.publishTarget ?? []),
  useFactory: (...targets: unknown[]) => targets,
};

const CORE_PROVIDERS: Provider[] = [
  configProvider,
  accessPolicyProvider,
  RedisConnector,
  StreamStyles,
  eventBusProvider,
  GatewayCatalog,
  EventBusLifecycle,
  TokenVerifier,
  JwtAuthenticator,
  authenticatorProvider,
  Authentication,
  ticketStoreProvider,
  ConnectTickets,
  UpgradeAuthenticator,
  ResourceAccess,
  ConnectionRegistry,
  ClusterView,
  UserSlots,
  ClusterPresence,
  TopicLimit,
  TrafficStats,
  ClientAddress,
  ApplicationRef,
  Fanout,
  RealtimeTopics,
  RealtimeTransport,
];

/**
 * The realtime gateways of SPEC.md on the host's HTTP server. Import it with
 * `RealtimeModule.forRoot(options)` or `RealtimeModule.forRootAsync({ useFactory, inject, imports })`
 * and install `RealtimeWsAdapter` on the application. What it exports is what `index.ts` exports.
 * @publicApi
 */
@Module({
  imports: [DiscoveryModule],
  controllers: [
    HealthController,
    TicketController,
    ClientsController,
    HistoryController,
    PublishController,
    AdminDashboardController,
    MetricsController,
    AsyncApiController,
    ApiDocsController,
    ...FEATURES.flatMap((feature) => feature.controllers ?? []),
  ],
  providers: [
    ...CORE_PROVIDERS,
    RealtimeStats,
    RealtimeMetrics,
    AdminCredentials,
    AdminAuthGuard,
    AdminBodyGate,
    AdminValidationPipe,
    publishTargetsProvider,
    ApiDocsSwitch,
    OpenApiDocument,
    ...FEATURES.flatMap((feature) => feature.providers),
  ],
  exports: [
    ConnectionRegistry,
    GatewayCatalog,
    RealtimeTopics,
    TokenVerifier,
    JwtAuthenticator,
    Authentication,
    ConnectTickets,
    ACCESS_POLICY,
    EVENT_BUS,
    REALTIME_CONFIG,
    RealtimeMetrics,
    ...FEATURES.flatMap((feature) => feature.exports),
  ],
})
export class RealtimeModule extends ConfigurableRealtimeModule {}
