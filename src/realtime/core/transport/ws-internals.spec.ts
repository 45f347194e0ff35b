import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { frameOf, rawSocketOf, writeFramed } from './ws-internals.js';

describe('ws internals the transport relies on', () => {
  it('frames once, writes the frame as is, and exposes the socket to cork', async () => {
    const server = new WebSocketServer({ port: 0 });
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[WebSocket]>;
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const [socket] = await accepted;
    await once(client, 'open');

    const payload = Buffer.from('{"type":"ping"}');
    const framed = frameOf(payload, { fin: true, opcode: 0x01, mask: false, readOnly: true, rsv1: false });
    expect(Buffer.concat(framed)).toEqual(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));

    const raw = rawSocketOf(socket);
    expect(typeof raw?.cork).toBe('function');
    expect(typeof raw?.uncork).toBe('function');

    const received = once(client, 'message') as Promise<[Buffer, boolean]>;
    expect(writeFramed(socket, framed)).toBe(true);
    const [data, isBinary] = await received;
    expect([data.toString(), isBinary]).toEqual(['{"type":"ping"}', false]);

    client.close();
    await once(client, 'close');
    server.close();
  });
});
