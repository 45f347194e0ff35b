// Scenario `auth`: what each way of authenticating an upgrade costs this app's server (issue 24). The app
// runs as in the other scenarios (`npm start`, NODE_ENV=production, HS256 JWTs); a client in this process
// opens AUTH_CONNECTS chat connections (AUTH_CONCURRENCY at a time), waits for each one's welcome and
// closes it, once per way: `?token=`, the `Sec-WebSocket-Protocol` bearer, `Authorization: Bearer`, and a
// one-time ticket (the `POST /ws/ticket` that mints it measured apart from the upgrade that redeems it).
// Server CPU per connect (µs, the server process's own), and connects per second.
// Knobs: AUTH_CONNECTS (3,000; BENCH_QUICK: 300), AUTH_CONCURRENCY (50).
import WebSocket from 'ws';
import { QUICK, SECRET, cpuBetween, seconds, startServer } from '../harness.mjs';
import { fixed, table, whole } from '../report.mjs';
import { token as signed } from '../../token.mjs';

const CONNECTS = Number(process.env.AUTH_CONNECTS ?? (QUICK ? 300 : 3000));
const CONCURRENCY = Number(process.env.AUTH_CONCURRENCY ?? 50);
const CHAT = '/api/v1/ws/connect';

/** One connection: open, the welcome, close, the close. */
function connectOnce(url, options = {}, protocols) {
  return new Promise((resolve, reject) => {
    const ws = protocols ? new WebSocket(url, protocols, options) : new WebSocket(url, options);
    ws.once('error', reject);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'connected') ws.close();
      else reject(new Error(`refused: ${String(data)}`));
    });
    ws.once('close', () => resolve());
  });
}

/** Runs `task(i)` for i < count, `CONCURRENCY` at a time. */
async function pool(count, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
}

async function ticketFor(port, token) {
  const response = await fetch(`http://127.0.0.1:${port}/ws/ticket`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) throw new Error(`POST /ws/ticket: ${response.status}`);
  return (await response.json()).ticket;
}

const WAYS = [
  { name: '`?token=`', open: (port, token) => connectOnce(`ws://127.0.0.1:${port}${CHAT}?token=${token}`) },
  {
    name: '`Sec-WebSocket-Protocol` bearer',
    open: (port, token) =>
      connectOnce(`ws://127.0.0.1:${port}${CHAT}`, {}, [
        'realtime.v1',
        `base64url.bearer.${Buffer.from(token).toString('base64url')}`,
      ]),
  },
  {
    name: '`Authorization: Bearer`',
    open: (port, token) =>
      connectOnce(`ws://127.0.0.1:${port}${CHAT}`, { headers: { authorization: `Bearer ${token}` } }),
  },
];

async function measureWay(server, way) {
  const tokens = Array.from({ length: CONNECTS }, (_, i) => signed(`auth-${i}`, SECRET));
  const before = await server.usage();
  const started = process.hrtime.bigint();
  await pool(CONNECTS, (i) => way.open(server.port, tokens[i]));
  const elapsed = seconds(started);
  const after = await server.usage();
  return { name: way.name, cpuUs: cpuBetween(before, after) / CONNECTS, perSec: CONNECTS / elapsed };
}

async function measureTickets(server) {
  const tokens = Array.from({ length: CONNECTS }, (_, i) => signed(`auth-t-${i}`, SECRET));
  const tickets = new Array(CONNECTS);
  const before = await server.usage();
  await pool(CONNECTS, async (i) => {
    tickets[i] = await ticketFor(server.port, tokens[i]);
  });
  const minted = await server.usage();
  const started = process.hrtime.bigint();
  await pool(CONNECTS, (i) => connectOnce(`ws://127.0.0.1:${server.port}${CHAT}?ticket=${tickets[i]}`));
  const elapsed = seconds(started);
  const after = await server.usage();
  return {
    mintUs: cpuBetween(before, minted) / CONNECTS,
    upgradeUs: cpuBetween(minted, after) / CONNECTS,
    perSec: CONNECTS / elapsed,
  };
}

export default {
  name: 'auth',
  async run() {
    const server = await startServer('app', { WS_TICKET_TTL: '600' });
    try {
      // Warm-up: the first connects of a process pay for compilation.
      await measureWay(server, WAYS[0]);
      const results = [];
      for (const way of WAYS) {
        results.push(await measureWay(server, way));
        console.log('auth', JSON.stringify(results.at(-1)));
      }
      const ticket = await measureTickets(server);
      console.log('auth ticket', JSON.stringify(ticket));
      const baseline = results[0].cpuUs;
      return [
        '## 8. What authenticating an upgrade costs',
        '',
        `This app alone: ${CONNECTS} chat connections, ${CONCURRENCY} at a time, each opened, welcomed and closed, ` +
          'once per way of carrying the credential (HS256 JWTs); server CPU per connect, the connect itself ' +
          'included. A ticket costs a `POST /ws/ticket` (a JWT check and a random value stored) before its upgrade.',
        '',
        ...table(
          ['credential', 'server CPU µs / connect', 'vs `?token=`', 'connects/s'],
          [
            ...results.map((r) => [r.name, whole(r.cpuUs), fixed(r.cpuUs / baseline), whole(r.perSec)]),
            [
              'one-time ticket: the upgrade',
              whole(ticket.upgradeUs),
              fixed(ticket.upgradeUs / baseline),
              whole(ticket.perSec),
            ],
            [
              'one-time ticket: `POST /ws/ticket` + upgrade',
              whole(ticket.mintUs + ticket.upgradeUs),
              fixed((ticket.mintUs + ticket.upgradeUs) / baseline),
              '–',
            ],
          ],
        ),
      ];
    } finally {
      server.kill();
    }
  },
};
