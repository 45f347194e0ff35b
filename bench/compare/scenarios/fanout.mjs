// Scenario `fanout`: one room of 100, 1,000 and 5,000 subscribers (BENCH_QUICK: 1,000), on
// every server. Knobs: FANOUT_SUBSCRIBERS (comma list), BURST_EVENTS (200), PACED_EVENTS (100; BENCH_QUICK: 50).
import { KINDS, QUICK } from '../harness.mjs';
import { kindChart, NAMES } from '../report.mjs';
import { broadcastTables, measureBroadcast } from './broadcast.mjs';

const SUBSCRIBERS = (process.env.FANOUT_SUBSCRIBERS ?? (QUICK ? '1000' : '100,1000,5000')).split(',').map(Number);
export const BURST_EVENTS = Number(process.env.BURST_EVENTS ?? 200);
export const PACED_EVENTS = Number(process.env.PACED_EVENTS ?? (QUICK ? 50 : 100));
const ROOM = 'channel:1';

export default {
  name: 'fanout',
  async run() {
    const results = [];
    for (const subscribers of SUBSCRIBERS) {
      for (const kind of KINDS) {
        const label = `fanout ${NAMES[kind]} ×${subscribers}`;
        const measured = await measureBroadcast({
          label,
          kind,
          subscribers,
          targets: [ROOM],
          target: { room: ROOM },
          burst: BURST_EVENTS,
          paced: PACED_EVENTS,
        });
        results.push({ kind, subscribers, ...measured });
        console.log(label, JSON.stringify(measured));
      }
    }
    const bySubscribers = (r) => `${r.subscribers} subscribers`;
    const lines = [
      '## 1. Room fan-out',
      '',
      `One room; ${BURST_EVENTS} events back to back (burst), then ${PACED_EVENTS} one at a time, each published ` +
        'once the previous one reached every subscriber (paced); payload ~64 bytes. Connects: upgrade to welcome ' +
        '(the app: with JWT verification and a log line each; its room joins come after, untimed). Idle memory: ' +
        'RSS growth over the connections, after the joins (noisy below 1,000 connections).',
      '',
      ...broadcastTables(
        'subscribers',
        (r) => r.subscribers,
        results,
        ' (CPU and memory: lower is better; rates: higher is better)',
      ),
    ];
    const charts = [
      [
        'fanout-burst-cpu',
        'Room fan-out, burst: server CPU per delivery',
        'µs per delivery',
        (r) => r.burst.cpuPerDeliveryUs,
      ],
      [
        'fanout-paced-cpu',
        'Room fan-out, paced: server CPU per delivery',
        'µs per delivery',
        (r) => r.paced.cpuPerDeliveryUs,
      ],
      [
        'fanout-connects',
        'Connects per second (this app: JWT, welcome, log line)',
        'connects/s',
        (r) => r.connectsPerSec,
      ],
    ].map(([file, title, unit, pick]) =>
      kindChart(
        file,
        { title, unit, note: unit === 'connects/s' ? 'higher is better' : 'lower is better' },
        results,
        bySubscribers,
        pick,
      ),
    );
    return { lines, charts };
  },
};
