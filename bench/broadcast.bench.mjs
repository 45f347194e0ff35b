// Broadcast benchmark: N chat clients in one room, M events published through the host API.
// Measures handshake rate (JWT verify + admission), end-to-end fan-out throughput and heap growth.
//   npm run bench                      (defaults: 500 clients, 2000 events of ~200 bytes)
//   CLIENTS=1000 EVENTS=5000 npm run bench
import WebSocket from 'ws';
import { ChatPublisher } from '../dist/realtime/index.js';
import { nextOfType, startBenchApp, token } from './support.mjs';

const CLIENTS = Number(process.env.CLIENTS ?? 500);
const EVENTS = Number(process.env.EVENTS ?? 2000);
// HISTORY=0: history and positions off (WS_HISTORY_SIZE=0), to see what they cost a publish.
const HISTORY = Number(process.env.HISTORY ?? 100);
const app = await startBenchApp({
  rateLimitPerSec: 1000,
  chat: { maxConnectionsPerUser: 100000 },
  historySize: HISTORY,
});
const { port } = app.getHttpServer().address();
const publisher = app.get(ChatPublisher);

let received = 0;
const sockets = [];
const inBatches = async (task) => {
  for (let batch = 0; batch < CLIENTS; batch += 100) {
    await Promise.all(Array.from({ length: Math.min(100, CLIENTS - batch) }, (_, i) => task(batch + i)));
  }
};
const nextMessage = nextOfType;

// Phase 1: upgrade + JWT verification + admission + welcome frame.
let started = process.hrtime.bigint();
await inBatches((i) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws/connect?token=${token(String(i))}`);
  sockets[i] = ws;
  return nextMessage(ws, 'connected');
});
const handshakeMs = Number(process.hrtime.bigint() - started) / 1e6;

// Phase 2: join the room; each first join also sends user_joined to everyone already in it (O(n²) frames).
started = process.hrtime.bigint();
await inBatches((i) => {
  const ws = sockets[i];
  const joined = nextMessage(ws, 'room_joined');
  ws.send(JSON.stringify({ type: 'join_room', room: 'channel:1' }));
  return joined;
});
const joinMs = Number(process.hrtime.bigint() - started) / 1e6;
for (const ws of sockets) ws.on('message', () => received++);
received = 0;
await new Promise((r) => setTimeout(r, 200));
received = 0;

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const expected = CLIENTS * EVENTS;
const payload = { text: 'x'.repeat(150), n: 0 };
const start = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
for (let i = 0; i < EVENTS; i++) {
  payload.n = i;
  publisher.message('channel:1', payload, 'bench');
  if (i % 50 === 49) await new Promise((r) => setImmediate(r));
}
while (received < expected) await new Promise((r) => setTimeout(r, 5));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuStart);
global.gc?.();
const heapAfter = process.memoryUsage().heapUsed;

console.log(
  JSON.stringify(
    {
      clients: CLIENTS,
      history: HISTORY,
      events: EVENTS,
      deliveries: expected,
      handshakes_per_sec: Math.round(CLIENTS / (handshakeMs / 1000)),
      joins_per_sec_with_presence_fanout: Math.round(CLIENTS / (joinMs / 1000)),
      deliveries_per_sec: Math.round(expected / seconds),
      events_per_sec: Math.round(EVENTS / seconds),
      seconds: Number(seconds.toFixed(3)),
      cpu_ms_server_and_clients: Math.round((cpu.user + cpu.system) / 1000),
      heap_growth_mb: Number(((heapAfter - heapBefore) / 1048576).toFixed(2)),
    },
    null,
    2,
  ),
);
sockets.forEach((ws) => ws.terminate());
await app.close();
process.exit(0);
