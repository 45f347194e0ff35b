// Joins into a small and a large room (issue 14): is a join's own cost independent of room size?
// A room of SMALL members and one of LARGE members; then, one after the other, JOINS second tabs
// of users already present (they announce nothing) and JOINS first tabs of new users (each owes
// every member a user_joined frame) join each room. Measured: joins per second, round trip per join.
//   npm run bench:joins        (SMALL=10 LARGE=5000 JOINS=300 by default; in memory)
import WebSocket from 'ws';
import { nextOfType, startBenchApp, token } from './support.mjs';

const SMALL = Number(process.env.SMALL ?? 10);
const LARGE = Number(process.env.LARGE ?? 5000);
const JOINS = Number(process.env.JOINS ?? 300);
const app = await startBenchApp({
  rateLimitPerSec: 100_000,
  chat: { maxConnectionsPerUser: 100_000 },
});
const { port } = app.getHttpServer().address();

const frame = nextOfType;

async function connect(sub) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws/connect?token=${token(sub)}`);
  await frame(ws, 'connected');
  return ws;
}

async function join(ws, room) {
  const joined = frame(ws, 'room_joined');
  ws.send(JSON.stringify({ type: 'join_room', room }));
  await joined;
}

async function inBatches(count, task) {
  const results = [];
  for (let start = 0; start < count; start += 100) {
    results.push(
      ...(await Promise.all(Array.from({ length: Math.min(100, count - start) }, (_, k) => task(start + k)))),
    );
  }
  return results;
}

/** JOINS sequential joins of `sockets` into `room`: joins per second. */
async function timedJoins(sockets, room) {
  const started = process.hrtime.bigint();
  for (const ws of sockets) await join(ws, room);
  return Math.round(sockets.length / (Number(process.hrtime.bigint() - started) / 1e9));
}

const all = [];
const rows = [];
for (const [name, size] of [
  ['small', SMALL],
  ['large', LARGE],
]) {
  const room = `channel:${size}`;
  const members = await inBatches(size, async (k) => {
    // Tabs of at most 100 users: the room holds `size` connections without an O(size²) setup.
    const ws = await connect(`${name}-member-${k % 100}`);
    await join(ws, room);
    return ws;
  });
  all.push(...members);
  // Members read what they are sent (user_joined of first tabs), as browsers do.
  const secondTabs = await inBatches(JOINS, (k) => connect(`${name}-member-${k % Math.min(size, 100)}`));
  const firstTabs = await inBatches(JOINS, (k) => connect(`${name}-newcomer-${k}`));
  all.push(...secondTabs, ...firstTabs);
  rows.push({
    room: name,
    members: size,
    secondTab: await timedJoins(secondTabs, room),
    firstTab: await timedJoins(firstTabs, room),
  });
}

console.log(`${JOINS} joins each, one at a time (round trip), in memory\n`);
console.log('| room | members | second tabs: joins/s | first tabs: joins/s (user_joined to every member) |');
console.log('| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.room} | ${row.members} | ${row.secondTab} | ${row.firstTab} |`);
const [small, large] = rows;
console.log(`\nsecond tabs, large / small: ${(large.secondTab / small.secondTab).toFixed(2)}× (goal ≥ 0.8×)`);
for (const ws of all) ws.terminate();
await app.close();
process.exit(0);
