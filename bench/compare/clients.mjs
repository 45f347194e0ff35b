// The client side of the side-by-side benchmark, in its own process, driven over IPC: opens groups of
// connections of one kind (spread over the source addresses 127.0.0.2…9), subscribes them (a room
// of `ws` or Socket.IO, a chat room of the app, or a scheduler path of the app), counts the events
// each receives, says when every armed socket has its events, and records, for latency sockets, the
// time from the send time in the payload to arrival.
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { token } from '../token.mjs';
import { serve } from './child.mjs';

const SECRET = process.env.BENCH_JWT_SECRET;
const SOURCE_ADDRESSES = 8;
/** Connects (and joins) in flight at once. */
const IN_FLIGHT = 50;
const SENT = /"sent":([\d.]+)/;

/** Milliseconds since the epoch, comparable across the processes of one machine. */
const now = () => performance.timeOrigin + performance.now();

/** Every connection, by group: `{socket, open, count, expected, atLeast, latency, eventPrefix, waiter}`. */
const groups = new Map();
let waiting = 0;
let onDelivered;
/** Events beyond what armed sockets expect, since the last tally: duplicates. */
let extra = 0;
/** Heartbeat pings the sockets received, since the last tally. */
let pings = 0;
/** Latencies (ms) since the last `expect`, and when the last event arrived. */
let samples = [];
let lastArrival = 0;
/** The connections of the last `open`, with the room each joins. */
let lastOpened = [];

function received(record, sentAt) {
  if (record.expected < 0) return;
  if (++record.count > record.expected) {
    if (!record.atLeast) extra++;
    return;
  }
  if (record.latency) {
    lastArrival = now();
    samples.push(lastArrival - sentAt);
  }
  if (record.count === record.expected && --waiting === 0) onDelivered?.();
}

/** A frame from the app or bare `ws`: an event to count, or what a `waitFor` waits for. */
function frame(record, text) {
  if (text.startsWith(record.eventPrefix)) return received(record, record.latency ? Number(SENT.exec(text)?.[1]) : 0);
  const waiter = record.waiter;
  if (!waiter) return;
  if (text.includes(waiter.marker)) {
    record.waiter = undefined;
    waiter.resolve(record);
  } else if (text.startsWith('{"type":"error"')) {
    record.waiter = undefined;
    waiter.reject(new Error(`refused: ${text}`));
  }
}

/** Resolves at the socket's next frame containing `marker` (rejects at an error frame). */
const waitFor = (record, marker) =>
  new Promise((resolve, reject) => {
    record.waiter = { marker, resolve, reject };
  });

/** Opens one connection; resolves with its record once it is welcomed (subscribed, but for app chat rooms). */
function connect(spec, url, target, localAddress) {
  const record = {
    open: false,
    count: 0,
    expected: -1,
    latency: Boolean(spec.latency),
    eventPrefix: `{"type":"${spec.eventType ?? 'message'}"`,
  };
  return new Promise((resolve, reject) => {
    if (spec.kind === 'socketio') {
      const socket = io(url, { transports: ['websocket'], query: { room: target }, localAddress, reconnection: false });
      record.socket = socket;
      socket.on('connect', () => resolve(Object.assign(record, { open: true })));
      socket.io.on('ping', () => pings++);
      socket.on('connect_error', reject);
      socket.on('disconnect', () => (record.open = false));
      socket.on('message', (payload) => received(record, payload.data.sent));
      return;
    }
    const socket = new WebSocket(url, { localAddress, perMessageDeflate: false });
    record.socket = socket;
    socket.on('error', reject);
    socket.on('close', () => (record.open = false));
    socket.on('ping', () => pings++);
    socket.on('message', (data) => frame(record, data.toString()));
    const welcomed = () => resolve(Object.assign(record, { open: true }));
    if (spec.kind === 'ws') socket.on('open', welcomed);
    else
      waitFor(record, spec.gateway === 'scheduler' ? '"action":"subscribed"' : '"type":"connected"').then(
        welcomed,
        reject,
      );
  });
}

/** The URL (with a token minted now, before any timing) and subscription of connection `index`. */
function address(spec, index) {
  const target = spec.targets?.[index % spec.targets.length];
  const origin = `127.0.0.1:${spec.port}`;
  if (spec.kind === 'ws') return { url: `ws://${origin}/?room=${encodeURIComponent(target)}`, target };
  if (spec.kind === 'socketio') return { url: `http://${origin}`, target };
  const { prefix = `user-${process.pid}-`, modulo } = spec.users ?? {};
  const jwt = token(`${prefix}${modulo ? index % modulo : index}`, SECRET);
  const path = spec.gateway === 'scheduler' ? target : '/api/v1/ws/connect';
  return { url: `ws://${origin}${path}?token=${jwt}`, target };
}

async function inBatches(items, task) {
  const results = [];
  for (let first = 0; first < items.length; first += IN_FLIGHT) {
    results.push(...(await Promise.all(items.slice(first, first + IN_FLIGHT).map(task))));
  }
  return results;
}

/** Sends a chat `join_room` and resolves at its `room_joined`. */
function join(record, room) {
  const joined = waitFor(record, '"type":"room_joined"');
  record.socket.send(JSON.stringify({ type: 'join_room', room }));
  return joined;
}

const selected = (names) => (names ? names.flatMap((name) => groups.get(name) ?? []) : [...groups.values()].flat());

const commands = {
  /**
   * `count` connections of `kind` into `group`, connection i (of the run: `first` + i) to
   * `targets[i % targets.length]`; timed from the first upgrade to the last welcome. The app's chat
   * connections then join their room at `joinOpened` (once every client process has connected),
   * unless `join` is false.
   */
  async open(spec) {
    const addresses = Array.from({ length: spec.count }, (_, i) => address(spec, spec.first + i));
    const started = process.hrtime.bigint();
    const records = await inBatches(addresses, ({ url, target }, i) =>
      connect(spec, url, target, `127.0.0.${2 + ((spec.first + i) % SOURCE_ADDRESSES)}`),
    );
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const joining = spec.kind === 'app' && spec.gateway !== 'scheduler' && spec.join !== false;
    lastOpened = joining ? records.map((record, i) => ({ record, room: addresses[i].target })) : [];
    groups.set(spec.group ?? 'default', [...(groups.get(spec.group ?? 'default') ?? []), ...records]);
    return { opened: records.length, ms };
  },
  /** The app chat connections of the last `open` join their room (untimed); nothing for the others. */
  async joinOpened() {
    await inBatches(lastOpened, ({ record, room }) => join(record, room));
    lastOpened = [];
    return {};
  },
  /** Arms the sockets of `groups` (all when omitted) for `events` each; `atLeast`: more are no error. */
  expect({ events, groups: names, atLeast }) {
    for (const record of selected()) record.expected = -1;
    const armed = selected(names);
    for (const record of armed) Object.assign(record, { count: 0, expected: events, atLeast: Boolean(atLeast) });
    waiting = events === 0 ? 0 : armed.length;
    onDelivered = undefined;
    samples = [];
    lastArrival = 0;
    return {};
  },
  /** Resolves once every armed socket has its events. */
  delivered: () => (waiting === 0 ? {} : new Promise((resolve) => (onDelivered = () => resolve({})))),
  tally() {
    const armed = selected().filter((record) => record.expected >= 0);
    const reply = {
      received: armed.reduce((sum, record) => sum + Math.min(record.count, record.expected), 0),
      expected: armed.reduce((sum, record) => sum + record.expected, 0),
      extra,
      open: selected().filter((record) => record.open).length,
      pings,
    };
    extra = 0;
    pings = 0;
    return reply;
  },
  latencies: () => ({ samples, lastArrival }),
  /** The sockets of `group` join chat `room` one at a time, each after the previous one's room_joined. */
  async joins({ group, room }) {
    const started = process.hrtime.bigint();
    for (const record of groups.get(group)) await join(record, room);
    return { ms: Number(process.hrtime.bigint() - started) / 1e6 };
  },
  close() {
    for (const { socket } of selected()) (socket.terminate ?? socket.disconnect).call(socket);
    groups.clear();
    return {};
  },
};

serve(commands);
