// The clients of the reconnect storm, in their own process, driven over IPC: each is the reconnecting
// client its users would run with its defaults (this app's ChatClient from the client package, which
// resumes rooms from positions; socket.io-client, which Socket.IO's connection state recovery
// resumes). Every one is in one room and checks the `seq` of the events it receives: each once and
// in order. After `mark`, each records when it was connected again and
// when its resume was answered (recovered or not).
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { ChatClient } from '../../client/dist/index.js';
import { token } from '../token.mjs';
import { serve } from './child.mjs';

const SECRET = process.env.BENCH_JWT_SECRET;

/** Milliseconds since the epoch, comparable across the processes of one machine. */
const now = () => performance.timeOrigin + performance.now();

/**
 * Every client: `next` seq expected, events `missing` (skipped over) and `late` (a seq already
 * passed: a duplicate), and since the mark `connectedAt`, `resumedAt`, `recovered`.
 */
const records = [];
let markedAt = 0;
/** Waiters on a condition over every record, checked after each change. */
const waiters = new Set();

function changed() {
  for (const waiter of waiters) {
    if (!records.every(waiter.done)) continue;
    waiters.delete(waiter);
    waiter.resolve();
  }
}
const until = (done) =>
  new Promise((resolve) => {
    waiters.add({ done, resolve });
    changed();
  });

function received(record, seq) {
  if (seq === record.next) record.next++;
  else if (seq > record.next) {
    record.missing += seq - record.next;
    record.next = seq + 1;
  } else record.late++;
  changed();
}

function resumed(record, recovered) {
  if (!markedAt || record.resumedAt) return;
  record.resumedAt = now();
  record.recovered = recovered;
  changed();
}

/** This app's chat client: joined to `room`, resumed by the client package after every reconnect. */
async function appClient(record, { port, room }, index) {
  const jwt = token(`storm-${process.pid}-${index}`, SECRET);
  const client = new ChatClient({ url: `http://127.0.0.1:${port}`, getToken: () => jwt, WebSocket });
  record.close = () => client.close();
  client.on('message', (frame) => received(record, frame.data.seq));
  client.on('open', ({ reconnected }) => {
    if (reconnected && markedAt && !record.connectedAt) record.connectedAt = now();
  });
  client.on('recovery', ({ stream, recovered }) => {
    if (stream === room && record.connectedAt) resumed(record, recovered);
  });
  await client.join(room);
}

/** socket.io-client with its default reconnection; the server's connection state recovery resumes it. */
function socketIoClient(record, { port, room }) {
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], query: { room } });
  record.close = () => socket.disconnect();
  socket.on('message', (payload) => received(record, payload.data.seq));
  return new Promise((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('connect', () => {
      socket.off('connect_error', reject);
      socket.on('connect', () => {
        if (!markedAt || record.connectedAt) return;
        record.connectedAt = now();
        resumed(record, socket.recovered);
      });
      resolve();
    });
  });
}

const IN_FLIGHT = 50;

const commands = {
  /** `count` clients of `kind` through `port`, in `room`, 50 connecting at a time. */
  async open({ kind, port, room, count, first }) {
    for (let start = 0; start < count; start += IN_FLIGHT) {
      const batch = [];
      for (let i = start; i < Math.min(count, start + IN_FLIGHT); i++) {
        const record = { next: 0, missing: 0, late: 0 };
        records.push(record);
        batch.push(
          kind === 'app' ? appClient(record, { port, room }, first + i) : socketIoClient(record, { port, room }),
        );
      }
      await Promise.all(batch);
    }
    return { opened: records.length };
  },
  /** Resolves once every client has received an event with seq ≥ `seq`: the flow reaches all of them. */
  flowing: ({ seq }) => until((record) => record.next > seq).then(() => ({})),
  /** From now on (`at`, the instant the server was stopped), losses and reconnects are timed. */
  mark({ at }) {
    markedAt = at;
    for (const record of records) Object.assign(record, { connectedAt: 0, resumedAt: 0 });
    return {};
  },
  /** Resolves once every client is connected again and its resume answered: times from the mark, in ms. */
  async resumed() {
    await until((record) => record.resumedAt > 0);
    return {
      connectedMs: records.map((record) => record.connectedAt - markedAt),
      resumedMs: records.map((record) => record.resumedAt - markedAt),
      recovered: records.filter((record) => record.recovered).length,
    };
  },
  /**
   * Waits (up to `ms`) until every client has every event up to `last`, then counts what is missing or
   * came twice.
   */
  async caughtUp({ last, ms }) {
    let timer;
    await Promise.race([
      until((record) => record.next > last),
      new Promise((resolve) => (timer = setTimeout(resolve, ms))),
    ]);
    clearTimeout(timer);
    const behind = records.filter((record) => record.next <= last);
    return {
      missing:
        records.reduce((sum, record) => sum + record.missing, 0) +
        behind.reduce((sum, r) => sum + last + 1 - r.next, 0),
      late: records.reduce((sum, record) => sum + record.late, 0),
      incomplete: records.filter((record) => record.missing > 0 || record.next <= last).length,
    };
  },
  close() {
    for (const record of records) record.close?.();
    records.length = 0;
    return {};
  },
};

serve(commands);
