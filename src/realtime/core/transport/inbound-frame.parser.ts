import type { InboundFrame } from '../gateway/gateway-definition.js';
import { RealtimeError } from '../gateway/realtime-error.js';

const HOSTILE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Turns a client's text frame into a plain JSON object, or a typed error: not JSON, not an
 * object, nested deeper than `maxDepth`, or carrying keys that could reach a prototype.
 */
export class InboundFrameParser {
  constructor(private readonly maxDepth: number) {}

  parse(text: string): InboundFrame | RealtimeError {
    // Refused before JSON.parse builds anything: a deep frame costs one scan, not a tree (SPEC.md §10.1).
    if (nestingExceeds(text, this.maxDepth)) return RealtimeError.badFrame(`JSON nested deeper than ${this.maxDepth}`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return RealtimeError.badFrame('Invalid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return RealtimeError.badFrame('Frame must be a JSON object');
    }
    return this.inspect(value, 1) ?? (value as InboundFrame);
  }

  private inspect(value: object, depth: number): RealtimeError | undefined {
    if (depth > this.maxDepth) return RealtimeError.badFrame(`JSON nested deeper than ${this.maxDepth}`);
    if (Array.isArray(value)) {
      for (const item of value) {
        const error = typeof item === 'object' && item !== null ? this.inspect(item, depth + 1) : undefined;
        if (error) return error;
      }
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (HOSTILE_KEYS.has(key)) return RealtimeError.badFrame(`Forbidden key: ${key}`);
      const item = (value as Record<string, unknown>)[key];
      const error = typeof item === 'object' && item !== null ? this.inspect(item, depth + 1) : undefined;
      if (error) return error;
    }
    return undefined;
  }
}

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether `text` opens more than `maxDepth` nested objects or arrays, strings aside: one linear scan. */
export function nestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) {
      inString = true;
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      if (++depth > maxDepth) return true;
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}
