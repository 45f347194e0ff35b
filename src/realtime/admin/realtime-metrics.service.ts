import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { EVENT_BUS, type EventBus } from '../bus/index.js';
import { Authentication, TokenVerifier } from '../core/auth/index.js';
import { GatewayCatalog } from '../core/gateway/index.js';
import { ConnectionRegistry, Fanout } from '../core/registry/index.js';
import { TrafficStats, type GatewayTraffic } from '../core/transport/index.js';

type PerGateway = (traffic: GatewayTraffic) => number;

/**
 * The Prometheus view of this instance (`GET /metrics`): process metrics, and the transport's own
 * counters read at scrape time, so nothing on a message path touches prom-client.
 * @publicApi
 */
@Injectable()
export class RealtimeMetrics {
  /** This module's registry; a host with its own can merge it (`Registry.merge`). */
  readonly registry = new Registry();

  constructor(
    private readonly catalog: GatewayCatalog,
    private readonly traffic: TrafficStats,
    private readonly connections: ConnectionRegistry,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    private readonly authentication: Authentication,
    private readonly verifier: TokenVerifier,
    private readonly fanout: Fanout,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.gauge('realtime_connections', 'Open connections', ['gateway'], (set) => {
      for (const gateway of this.catalog.names) set({ gateway }, this.connections.countByGateway(gateway));
    });
    this.perGateway('realtime_messages_received_total', 'Frames received from clients', (t) => t.messagesIn);
    this.perGateway('realtime_messages_sent_total', 'Frames sent to clients', (t) => t.messagesOut);
    this.perGateway(
      'realtime_rate_limited_frames_total',
      'Inbound frames dropped by the rate limit',
      (t) => t.rateLimited,
    );
    this.perGateway(
      'realtime_slow_consumer_closes_total',
      'Sockets closed 1013 for their backlog',
      (t) => t.slowConsumerCloses,
    );
    this.perGateway(
      'realtime_auth_failures_total',
      'Upgrades refused at authentication (a missing or bad credential, or an authenticator error)',
      (t) => t.authFailures,
    );
    this.counter('realtime_errors_total', 'Error frames sent, by kind', ['gateway', 'kind'], (inc) => {
      for (const gateway of this.catalog.names) {
        for (const [kind, count] of Object.entries(this.traffic.of(gateway).errors)) inc({ gateway, kind }, count);
      }
    });
    this.counter('realtime_closes_total', 'Connections closed, by close code', ['gateway', 'code'], (inc) => {
      for (const gateway of this.catalog.names) {
        for (const [code, count] of this.traffic.of(gateway).closeCodes) inc({ gateway, code: String(code) }, count);
      }
    });
    this.counter(
      'realtime_authentications_total',
      'Authentications (upgrade, http, refresh, rpc) by result: ok, refused, error, timeout',
      ['source', 'result'],
      (inc) => {
        for (const [key, count] of this.authentication.counters) {
          const [source, result] = key.split(' ');
          inc({ source, result }, count);
        }
      },
    );
    this.counter('realtime_jwks_fetches_total', 'Fetches of the JWKS key set, by result', ['result'], (inc) => {
      const counters = this.verifier.jwksCounters;
      if (!counters) return;
      inc({ result: 'ok' }, counters.fetched);
      inc({ result: 'failed' }, counters.failed);
    });
    this.counter('realtime_history_reads_total', 'Stream histories read for joins and resumes', [], (inc) =>
      inc({}, this.fanout.recoveryCounters.historyReads),
    );
    this.counter(
      'realtime_recoveries_total',
      'Resumes from a named position, by result: recovered (every missed event sent) or not (reload)',
      ['result'],
      (inc) => {
        inc({ result: 'recovered' }, this.fanout.recoveryCounters.recovered);
        inc({ result: 'not_recovered' }, this.fanout.recoveryCounters.notRecovered);
      },
    );
    this.counter('realtime_bus_published_total', 'Messages published to the bus', [], (inc) =>
      inc({}, this.bus.counters.published),
    );
    this.counter('realtime_bus_received_total', 'Messages received from other instances', [], (inc) =>
      inc({}, this.bus.counters.received),
    );
    this.gauge(
      'realtime_bus_lag_seconds',
      'Publish-to-receipt delay of the last message from another instance',
      [],
      (set) => set({}, this.bus.counters.lagMs / 1000),
    );
    this.gauge('realtime_redis_up', 'Whether Redis answers (1), is down (0), or is not used (-1)', [], (set) => {
      const status = this.bus.status();
      set({}, status === 'up' ? 1 : status === 'down' ? 0 : -1);
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private perGateway(name: string, help: string, count: PerGateway): void {
    this.counter(name, help, ['gateway'], (inc) => {
      for (const gateway of this.catalog.names) inc({ gateway }, count(this.traffic.of(gateway)));
    });
  }

  /** A counter whose values are the transport's totals, read at scrape time. */
  private counter(
    name: string,
    help: string,
    labelNames: string[],
    read: (inc: (labels: Record<string, string>, value: number) => void) => void,
  ): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        read((labels, value) => this.inc(labels, value));
      },
    });
  }

  private gauge(
    name: string,
    help: string,
    labelNames: string[],
    read: (set: (labels: Record<string, string>, value: number) => void) => void,
  ): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        read((labels, value) => this.set(labels, value));
      },
    });
  }
}
