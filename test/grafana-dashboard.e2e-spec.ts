import { readFileSync } from 'node:fs';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { closeAll, type TestClient } from './support/test-client.js';

interface Target {
  expr: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
}

const DASHBOARD = JSON.parse(readFileSync('docs/grafana/realtime.json', 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ query: { query: string } }> };
  __inputs: Array<{ name: string; pluginId: string }>;
};

/** Metric names a PromQL expression selects: every name right before a `{…}` selector or in `label_values(…)`. */
function metricsOf(expr: string): string[] {
  const selected = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((match) => match[1]);
  const labelValues = [...expr.matchAll(/label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/g)].map((match) => match[1]);
  return [...selected, ...labelValues];
}

/** The series names a live `/metrics` exports (a histogram's and a summary's parts included). */
function exported(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') ['_bucket', '_sum', '_count'].forEach((part) => names.add(name + part));
    if (type === 'summary') ['_sum', '_count'].forEach((part) => names.add(name + part));
  }
  return names;
}

describe('the Grafana dashboard docs/grafana/realtime.json (issue 26)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('queries only metrics that a live /metrics exports, every one of them per instance', async () => {
    const response = await fetch(`${t.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    const names = exported(await response.text());
    const queries = DASHBOARD.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));
    expect(queries.length).toBeGreaterThan(15);
    const missing: string[] = [];
    for (const { panel, target } of queries) {
      const metrics = metricsOf(target.expr);
      expect({ panel: panel.title, metrics: metrics.length > 0 }).toEqual({ panel: panel.title, metrics: true });
      expect({ panel: panel.title, filtered: target.expr.includes('instance=~"$instance"') }).toEqual({
        panel: panel.title,
        filtered: true,
      });
      for (const metric of metrics) if (!names.has(metric)) missing.push(`${panel.title}: ${metric}`);
    }
    for (const variable of DASHBOARD.templating.list) {
      for (const metric of metricsOf(variable.query.query)) if (!names.has(metric)) missing.push(`variable: ${metric}`);
    }
    expect(missing).toEqual([]);
  });

  it('counts history reads and resumes recovered or not (realtime_history_reads_total, realtime_recoveries_total)', async () => {
    const value = async (series: string): Promise<number> => {
      const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    const before = {
      reads: await value('realtime_history_reads_total'),
      recovered: await value('realtime_recoveries_total{result="recovered"}'),
      lost: await value('realtime_recoveries_total{result="not_recovered"}'),
    };
    const open: TestClient[] = [];
    try {
      const first = await t.chat({ sub: 'metrics-a' });
      open.push(first);
      first.send({ type: 'join_room', room: 'channel:77' });
      const joined = await first.nextOfType('room_joined');
      await t.http('POST', '/ws/publish', {
        token: ADMIN_TOKEN,
        body: { room: 'channel:77', type: 'task.updated', data: { n: 1 } },
      });
      const second = await t.chat({ sub: 'metrics-b' });
      open.push(second);
      second.send({ type: 'join_room', room: 'channel:77', data: { since: { offset: 0, epoch: joined.data.epoch } } });
      expect((await second.nextOfType('room_joined')).data.recovered).toBe(true);
      second.send({ type: 'join_room', room: 'channel:78', data: { since: { offset: 3, epoch: 'zzzzzzzz' } } });
      expect((await second.nextOfType('room_joined')).data.recovered).toBe(false);
    } finally {
      await closeAll(open);
    }
    // The welcomes' own rooms (two), the three joins: five reads; one resume recovered, one not.
    expect({
      reads: (await value('realtime_history_reads_total')) - before.reads,
      recovered: (await value('realtime_recoveries_total{result="recovered"}')) - before.recovered,
      lost: (await value('realtime_recoveries_total{result="not_recovered"}')) - before.lost,
    }).toEqual({ reads: 5, recovered: 1, lost: 1 });
  });

  it('covers what an operator watches: connections, traffic, errors and closes, limits, bus, Redis, history, the event loop', () => {
    const queried = new Set(
      DASHBOARD.panels.flatMap((panel) => (panel.targets ?? []).flatMap((target) => metricsOf(target.expr))),
    );
    for (const metric of [
      'realtime_connections',
      'realtime_messages_received_total',
      'realtime_messages_sent_total',
      'realtime_errors_total',
      'realtime_closes_total',
      'realtime_slow_consumer_closes_total',
      'realtime_rate_limited_frames_total',
      'realtime_bus_published_total',
      'realtime_bus_received_total',
      'realtime_bus_lag_seconds',
      'realtime_redis_up',
      'realtime_history_reads_total',
      'realtime_recoveries_total',
      'realtime_authentications_total',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect({ metric, queried: queried.has(metric) }).toEqual({ metric, queried: true });
    }
  });

  it('imports into any Grafana: a Prometheus data source input, no hard-coded data source', () => {
    expect(DASHBOARD.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    const text = JSON.stringify(DASHBOARD);
    const sources = [...text.matchAll(/"uid":"([^"]*)"/g)]
      .map((match) => match[1])
      .filter((uid) => uid !== 'nest-realtime-gateways');
    expect(new Set(sources)).toEqual(new Set(['${DS_PROMETHEUS}']));
  });
});
