// One server of the side-by-side benchmark, in its own process, driven by its parent over IPC:
//   node bench/compare/server.mjs ws|socketio|app
// Every kind keeps rooms of sockets and broadcasts one JSON event to a room; the parent asks for
// publishes and for the process's own CPU time and memory.
import { createServer } from 'node:http';

const kind = process.argv[2];
const PAYLOAD_PAD = 'x'.repeat(Number(process.env.PAYLOAD_BYTES ?? 64));

/** Each kind: listen on a free port, then `broadcast(room, seq)` sends one event to every member. */
const kinds = {
  async ws() {
    const { WebSocketServer } = await import('ws');
    const http = createServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false });
    const rooms = new Map();
    wss.on('connection', (socket, request) => {
      const room = new URL(request.url, 'ws://x').searchParams.get('room');
      if (!rooms.has(room)) rooms.set(room, new Set());
      rooms.get(room).add(socket);
      socket.on('close', () => rooms.get(room).delete(socket));
    });
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    return {
      port: http.address().port,
      broadcast(room, seq) {
        const json = JSON.stringify({
          type: 'message',
          room,
          data: { seq, pad: PAYLOAD_PAD },
          timestamp: new Date().toISOString(),
        });
        for (const socket of rooms.get(room) ?? []) socket.send(json);
      },
    };
  },

  async socketio() {
    const { Server } = await import('socket.io');
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
    io.on('connection', (socket) => socket.join(String(socket.handshake.query.room)));
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    return {
      port: http.address().port,
      broadcast(room, seq) {
        io.to(room).emit('message', {
          type: 'message',
          room,
          data: { seq, pad: PAYLOAD_PAD },
          timestamp: new Date().toISOString(),
        });
      },
    };
  },

  async app() {
    // The standalone app as `npm start` runs it (NODE_ENV=production, logging on, in-memory bus).
    await import('reflect-metadata');
    const { ConsoleLogger } = await import('@nestjs/common');
    const { NestFactory } = await import('@nestjs/core');
    const { AppModule } = await import('../../dist/app.module.js');
    const { ChatPublisher, RealtimeWsAdapter } = await import('../../dist/realtime/index.js');
    const app = await NestFactory.create(AppModule, { logger: new ConsoleLogger('Realtime') });
    app.useWebSocketAdapter(new RealtimeWsAdapter(app));
    await app.listen(0, '127.0.0.1');
    const publisher = app.get(ChatPublisher);
    return {
      port: app.getHttpServer().address().port,
      broadcast(room, seq) {
        publisher.message(room, { seq, pad: PAYLOAD_PAD });
      },
    };
  },
};

const server = await kinds[kind]();

process.on('message', (command) => {
  switch (command.cmd) {
    case 'burst':
      // Back to back, in one turn.
      for (let seq = 0; seq < command.events; seq++) server.broadcast(command.room, seq);
      break;
    case 'one':
      server.broadcast(command.room, command.seq);
      break;
    case 'exit':
      process.exit(0);
      break;
    case 'usage':
      global.gc?.();
      process.send({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed });
      break;
  }
});
process.send({ port: server.port });
