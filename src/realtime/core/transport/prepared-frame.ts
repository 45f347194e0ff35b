import { frameOf } from './ws-internals.js';

/**
 * A server event serialized and framed once, then written to every recipient as is
 * (as socket.io-adapter does with `WebSocket.Sender.frame`): no per-recipient JSON or copies.
 */
export class PreparedFrame {
  readonly payload: Buffer;
  /** The WebSocket frame: header then payload, shared read-only by every recipient. */
  readonly framed: Buffer[];

  private constructor(payload: Buffer) {
    this.payload = payload;
    this.framed = frameOf(payload, {
      fin: true,
      opcode: 0x01,
      mask: false,
      readOnly: true,
      rsv1: false,
    });
  }

  get byteLength(): number {
    return this.payload.length;
  }

  static fromJson(json: string): PreparedFrame {
    return new PreparedFrame(Buffer.from(json));
  }
}
