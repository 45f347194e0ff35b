// Scenario `joins` (this app only: the peers have no presence): joins into a room of 10 members and
// one of 5,000 (BENCH_QUICK: 1,000), the server in its own process, the members spread over two
// client processes, the joining tabs in the first one, joining one at a time (round trip). Second
// tabs (their user is in the room already) announce nothing; first tabs (a new user) announce
// user_joined to every member. Goal: second tabs join the large room at ≥ 0.8× the small one's rate.
// Knobs: SMALL (10), LARGE, JOINS (second tabs per room, 300; BENCH_QUICK: 50), FIRST_JOINS
// (first tabs per room, 100; BENCH_QUICK: 20).
import { QUICK, sleep, startClients, startServer } from '../harness.mjs';
import { fixed, table, whole } from '../report.mjs';

const SMALL = Number(process.env.SMALL ?? 10);
const LARGE = Number(process.env.LARGE ?? (QUICK ? 1000 : 5000));
const JOINS = Number(process.env.JOINS ?? (QUICK ? 50 : 300));
const FIRST_JOINS = Number(process.env.FIRST_JOINS ?? (QUICK ? 20 : 100));
/** A room's members are tabs of at most this many users: no O(size²) user_joined set-up. */
const USERS_PER_ROOM = 100;
const GOAL = 0.8;

/** Joins per second of `group`'s tabs into `room`, one at a time, in the first client process. */
async function timedJoins(clients, group, room, count) {
  const { ms } = await clients.ask(0, { cmd: 'joins', group, room }, 60_000 + count * 1000);
  return count / (ms / 1000);
}

async function measure(server, name, members) {
  const room = `channel:${members}`;
  const clients = startClients();
  const port = server.port;
  try {
    await clients.open({
      kind: 'app',
      port,
      count: members,
      targets: [room],
      users: { prefix: `${name}-member-`, modulo: USERS_PER_ROOM },
    });
    const tab = (group, count, users) =>
      clients.ask(0, { cmd: 'open', kind: 'app', port, group, count, first: 0, join: false, users }, 120_000);
    await tab('second', JOINS, { prefix: `${name}-member-`, modulo: Math.min(members, USERS_PER_ROOM) });
    await tab('first', FIRST_JOINS, { prefix: `${name}-newcomer-` });
    await sleep(500);
    const secondTab = await timedJoins(clients, 'second', room, JOINS);
    const firstTab = await timedJoins(clients, 'first', room, FIRST_JOINS);
    await clients.verify(`joins ${name}`, members + JOINS + FIRST_JOINS);
    return { room: name, members, secondTab, firstTab };
  } finally {
    await clients.close();
  }
}

export default {
  name: 'joins',
  async run() {
    const server = await startServer('app');
    let rows;
    try {
      // A first pass, discarded, so that neither measured room runs on a cold server.
      await measure(server, 'warm', SMALL);
      rows = [await measure(server, 'small', SMALL), await measure(server, 'large', LARGE)];
    } finally {
      server.kill();
    }
    console.log('joins', JSON.stringify(rows));
    const [small, large] = rows;
    const ratio = large.secondTab / small.secondTab;
    return [
      '## 3. Joins into a room of 10 vs a large room (this app)',
      '',
      `One server process; the room's members spread over two client processes (tabs of at most ` +
        `${USERS_PER_ROOM} users), the joining tabs in the first one, joining one at a time (each after the ` +
        `previous one's \`room_joined\`): ${JOINS} second tabs (their user is in the room: they announce nothing), ` +
        `then ${FIRST_JOINS} first tabs (new users: \`user_joined\` to every member). The small room runs first, ` +
        'after a discarded pass on another small room (the server warm).',
      '',
      ...table(
        ['room', 'members', 'second tabs: joins/s', 'first tabs: joins/s (user_joined to every member)'],
        rows.map((row) => [row.room, row.members, whole(row.secondTab), whole(row.firstTab)]),
      ),
      '',
      `Second tabs, large / small: **${fixed(ratio)}×** (goal ≥ ${GOAL}×: ${ratio >= GOAL ? 'met' : 'not met'}).`,
    ];
  },
};
