import type { InboundFrame } from '../gateway/gateway-definition.js';
import { RealtimeError } from '../gateway/realtime-error.js';
import { isRecord } from '../text/json-decode.js';
import { jsonShapeExcess, type JsonShapeLimits } from './json-shape.js';

const HOSTILE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A frame the parser refused: why, and, when the frame was read far enough, its `id` alone, so that
 * the answer carries the request's id (an RPC client waits for it) without handing on what was refused.
 */
export class RefusedFrame {
  constructor(
    readonly error: RealtimeError,
    readonly inReplyTo?: InboundFrame,
  ) {}
}

/**
 * Turns a client's text frame into a plain JSON object, or a typed error: not JSON, not an
 * object, nested deeper than `maxDepth`, wider than `maxElements`, or carrying keys that could
 * reach a prototype.
 */
export class InboundFrameParser {
  private readonly maxDepth: number;
  private readonly tooDeep: RefusedFrame;
  private readonly tooWide: RefusedFrame;

  constructor(private readonly limits: JsonShapeLimits) {
    this.maxDepth = limits.maxDepth;
    this.tooDeep = new RefusedFrame(RealtimeError.badFrame(`JSON nested deeper than ${limits.maxDepth}`));
    this.tooWide = new RefusedFrame(
      RealtimeError.badFrame(`JSON with more than ${limits.maxElements} keys and elements`),
    );
  }

  parse(text: string): InboundFrame | RefusedFrame {
    // Refused before JSON.parse builds anything: a deep or wide frame costs one scan, not a tree (SPEC.md §10.1).
    const excess = jsonShapeExcess(text, this.limits);
    if (excess) return excess === 'depth' ? this.tooDeep : this.tooWide;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return new RefusedFrame(RealtimeError.badFrame('Invalid JSON'));
    }
    if (!isRecord(value)) return new RefusedFrame(RealtimeError.badFrame('Frame must be a JSON object'));
    const frame: InboundFrame = value;
    const error = this.inspect(frame, 1);
    return error ? new RefusedFrame(error, 'id' in frame ? { id: frame.id } : undefined) : frame;
  }

  private inspect(value: object, depth: number): RealtimeError | undefined {
    if (depth > this.maxDepth) return this.tooDeep.error;
    if (Array.isArray(value)) {
      for (const item of value as unknown[]) {
        const error = typeof item === 'object' && item !== null ? this.inspect(item, depth + 1) : undefined;
        if (error) return error;
      }
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (HOSTILE_KEYS.has(key)) return RealtimeError.badFrame(`Forbidden key: ${key}`);
      const item: unknown = Reflect.get(value, key);
      const error = typeof item === 'object' && item !== null ? this.inspect(item, depth + 1) : undefined;
      if (error) return error;
    }
    return undefined;
  }
}
