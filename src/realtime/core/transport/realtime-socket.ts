import WebSocket from 'ws';
import type { Connection } from './connection.js';

/**
 * The `ws` socket of every gateway, knowing the connection it carries once admitted: the transport's
 * listeners are shared by every socket and find their connection here, so that a socket keeps no
 * closures of its own (a few hundred bytes per idle connection).
 */
export class RealtimeSocket extends WebSocket {
  connection?: Connection;
}
