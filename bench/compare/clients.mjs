// The client side of the side-by-side benchmark, in its own process, driven over IPC: opens
// connections of one kind (spread over 127.0.0.x source addresses), joins them to a room, counts
// the events each receives, and says when every socket has them.
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { token } from '../token.mjs';

const SECRET = process.env.BENCH_JWT_SECRET;
const SOURCE_ADDRESSES = Number(process.env.SOURCE_ADDRESSES ?? 8);

const sockets = [];
/** Events received per socket since the last `expect`. */
let counts = [];
let expected = 0;
let waiting = 0;

function received(index) {
  if (++counts[index] === expected && --waiting === 0) process.send({ done: true });
}

/** Opens one connection; resolves once it is welcomed (in `room` already, but for the app: see `open`). */
function open(kind, port, room, index, localAddress) {
  return new Promise((resolve, reject) => {
    if (kind === 'socketio') {
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: ['websocket'],
        query: { room },
        localAddress,
        reconnection: false,
      });
      socket.on('connect', () => resolve(socket));
      socket.on('connect_error', reject);
      socket.on('message', () => received(index));
      return;
    }
    const url =
      kind === 'ws'
        ? `ws://127.0.0.1:${port}/?room=${room}`
        : `ws://127.0.0.1:${port}/api/v1/ws/connect?token=${token(`bench-${process.pid}-${index}`, SECRET)}`;
    const socket = new WebSocket(url, { localAddress, perMessageDeflate: false });
    socket.on('error', reject);
    socket.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"message"')) received(index);
      else if (kind === 'app' && text.includes('"type":"connected"')) resolve(socket);
      else if (kind === 'app' && text.includes('"type":"room_joined"')) socket.emit('joined');
    });
    if (kind === 'ws') socket.on('open', () => resolve(socket));
  });
}

process.on('message', async (command) => {
  if (command.cmd === 'open') {
    const started = process.hrtime.bigint();
    for (let first = 0; first < command.count; first += 50) {
      const batch = [];
      for (let i = first; i < Math.min(command.count, first + 50); i++) {
        const localAddress = `127.0.0.${2 + (i % SOURCE_ADDRESSES)}`;
        batch.push(open(command.kind, command.port, command.room, sockets.length + i - first, localAddress));
      }
      sockets.push(...(await Promise.all(batch)));
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // The app's chat connections join the room by a frame (and each first join is announced to the room).
    if (command.kind === 'app' && !command.noJoin) {
      for (let first = 0; first < sockets.length; first += 50) {
        const batch = sockets.slice(first, first + 50).map(
          (socket) =>
            new Promise((resolve) => {
              socket.once('joined', resolve);
              socket.send(JSON.stringify({ type: 'join_room', room: command.room }));
            }),
        );
        await Promise.all(batch);
      }
    }
    counts = sockets.map(() => 0);
    process.send({ opened: sockets.length, ms });
  } else if (command.cmd === 'expect') {
    counts = sockets.map(() => 0);
    expected = command.events;
    waiting = sockets.length;
    process.send({ armed: true });
  } else if (command.cmd === 'close') {
    for (const socket of sockets) (socket.terminate ?? socket.disconnect).call(socket);
    process.exit(0);
  }
});
