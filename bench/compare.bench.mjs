// Side-by-side benchmark (issue 14): this app (as `npm start` runs it: NODE_ENV=production, JWT,
// logging on; in-memory bus, or Redis where a scenario says so) against a bare `ws` server and
// Socket.IO 4, each server in its own process, driven by client processes (connections spread over
// 127.0.0.2…9), measured in one run. Server CPU is the server process's own (process.cpuUsage()).
//   npm run bench                          (every scenario; writes bench/RESULTS.md and bench/charts/*.svg)
//   BENCH_QUICK=1 npm run bench            (a short version of every scenario)
//   BENCH_ONLY=crossinstance,idle npm run bench   (some scenarios: printed, written only to BENCH_OUT)
//   BENCH_CPU_PROF=/tmp/prof npm run bench   (each server under node --cpu-prof, profiles written there)
// Scenarios and their knobs are in bench/compare/scenarios/. BENCH_TIMEOUT_MINUTES bounds the run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { barChart } from './compare/charts.mjs';
import { killAll, QUICK, seconds } from './compare/harness.mjs';
import auth from './compare/scenarios/auth.mjs';
import client from './compare/scenarios/client-size.mjs';
import crossInstance from './compare/scenarios/cross-instance.mjs';
import fanout from './compare/scenarios/fanout.mjs';
import idle from './compare/scenarios/idle.mjs';
import joins from './compare/scenarios/joins.mjs';
import manyRooms from './compare/scenarios/many-rooms.mjs';
import scheduler from './compare/scenarios/scheduler.mjs';
import storm from './compare/scenarios/storm.mjs';

const SCENARIOS = [fanout, manyRooms, joins, scheduler, crossInstance, idle, storm, auth, client];
const TIMEOUT_MINUTES = Number(process.env.BENCH_TIMEOUT_MINUTES ?? (QUICK ? 10 : 45));

const only = process.env.BENCH_ONLY?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = only?.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(
    `BENCH_ONLY: unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`,
  );
  process.exit(2);
}
const selected = only ? SCENARIOS.filter((scenario) => only.includes(scenario.name)) : SCENARIOS;
const output = process.env.BENCH_OUT ?? (only ? undefined : 'bench/RESULTS.md');

let current = 'start-up';
function fail(message) {
  console.error(`bench: ${message}`);
  killAll();
  process.exit(1);
}
setTimeout(
  () => fail(`gave up after ${TIMEOUT_MINUTES} min, in scenario ${current} (BENCH_TIMEOUT_MINUTES to allow more)`),
  TIMEOUT_MINUTES * 60_000,
).unref();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => fail(`${signal}: stopped`));

const sections = [];
const charts = [];
const took = [];
const runStarted = process.hrtime.bigint();
for (const scenario of selected) {
  current = scenario.name;
  const started = process.hrtime.bigint();
  console.log(`--- ${scenario.name}`);
  try {
    // A scenario answers its section's lines, or {lines, charts}: its charts are linked under them.
    const result = await scenario.run();
    const { lines, charts: own = [] } = Array.isArray(result) ? { lines: result } : result;
    sections.push(lines, ['']);
    if (output && own.length > 0) {
      sections.push(
        own.map(({ file, title }) => `![${title}](charts/${file}.svg)`),
        [''],
      );
      charts.push(...own);
    }
  } catch (error) {
    fail(`scenario ${scenario.name} failed: ${error.stack ?? error}`);
  }
  took.push(`${scenario.name} ${Math.round(seconds(started))} s`);
}

const cpu = cpus()[0]?.model.trim();
const lines = [
  '# Benchmark results',
  '',
  `\`npm run bench\`${QUICK ? ' (BENCH_QUICK=1: fewer connections and events, shorter runs)' : ''}, ` +
    `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpu}), Node ${process.version}; ` +
    `${Math.round(seconds(runStarted))} s (${took.join(', ')}). Each server in its own process, the clients in ` +
    'other processes on 127.0.0.2…9, sharing the cores with the server. This app runs as `npm start` runs it ' +
    '(`NODE_ENV=production`, JWT verification of every upgrade, a log line per connect to a drained pipe, ' +
    'in-memory bus except in scenario 5); the peers authenticate nothing. CPU is the server process’s own ' +
    '(`process.cpuUsage()`); a ratio is this app’s figure over the peer’s (costs: lower is better; rates: higher ' +
    'is better). Method: [docs/performance.md](../docs/performance.md).',
  '',
  ...sections.flat(),
];
const markdown = lines.join('\n');
if (output) {
  const directory = join(dirname(output), 'charts');
  mkdirSync(directory, { recursive: true });
  writeFileSync(output, markdown);
  for (const chart of charts) writeFileSync(join(directory, `${chart.file}.svg`), barChart(chart));
}
console.log(`\n${markdown}${output ? `\n(written to ${output})` : ''}`);
process.exit(0);
