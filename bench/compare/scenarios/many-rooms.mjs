// Scenario `manyrooms`: many rooms of few members (1,000 × 5; BENCH_QUICK: 100 × 5), on every server;
// each event goes to every room. Knobs: MANY_ROOMS (count), ROOM_MEMBERS (5), MANY_ROOMS_BURST
// (rounds back to back, 20), MANY_ROOMS_PACED (rounds one at a time, 10).
import { KINDS, QUICK } from '../harness.mjs';
import { NAMES } from '../report.mjs';
import { broadcastTables, measureBroadcast } from './broadcast.mjs';

const ROOMS = Number(process.env.MANY_ROOMS ?? (QUICK ? 100 : 1000));
const MEMBERS = Number(process.env.ROOM_MEMBERS ?? 5);
const BURST = Number(process.env.MANY_ROOMS_BURST ?? (QUICK ? 10 : 20));
const PACED = Number(process.env.MANY_ROOMS_PACED ?? 10);

export default {
  name: 'manyrooms',
  async run() {
    const rooms = Array.from({ length: ROOMS }, (_, k) => `channel:${1000 + k}`);
    const results = [];
    for (const kind of KINDS) {
      const label = `manyrooms ${NAMES[kind]} ${ROOMS}×${MEMBERS}`;
      const measured = await measureBroadcast({
        label,
        kind,
        subscribers: ROOMS * MEMBERS,
        targets: rooms,
        target: { rooms },
        burst: BURST,
        paced: PACED,
      });
      results.push({ kind, ...measured });
      console.log(label, JSON.stringify(measured));
    }
    const shape = `${ROOMS} × ${MEMBERS}`;
    return [
      '## 2. Many rooms, few members',
      '',
      `${ROOMS} rooms of ${MEMBERS} members (${ROOMS * MEMBERS} connections, each in one room). A round publishes ` +
        `one event to every room (${ROOMS} publishes, ${ROOMS * MEMBERS} deliveries): ${BURST} rounds back to back ` +
        `(burst), then ${PACED} rounds one at a time, each once the previous one reached every member (paced).`,
      '',
      ...broadcastTables('rooms × members', () => shape, results),
    ];
  },
};
