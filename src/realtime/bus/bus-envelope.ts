import type { GatewayName } from './event-bus.js';
import type { BusMessage } from './event-bus.js';
import type { Positions, StreamPosition } from './stream-position.js';

/**
 * What travels with an event's frame on its channels and in its history. The field names are one
 * letter and must stay as they are: instances of older versions and the Lua scripts in
 * `stream-scripts.ts` read them.
 */
export interface Envelope {
  /** Origin: the publishing instance's id. */
  o: string;
  /** Gateway: whose connections the event is for. */
  g: GatewayName;
  /** Topics: the streams the event belongs to. */
  t: string[];
  /** eXcept: the user whose connections the event is not for. */
  x?: string;
  /** Local: 1 when the publisher delivered it to its own sockets already (published while Redis was down). */
  l: 0 | 1;
  /** At: publish time (ms), for the lag gauge. */
  a: number;
  /** Positions: the event's position in each of its streams, added by `PUBLISH_TO_STREAMS`. */
  p: Positions;
}

/** An event as it arrives on a channel or from a history: its envelope, a newline, its frame. */
export interface BusPayload {
  envelope: Envelope;
  frame: string;
}

/**
 * The envelope of an event as `PUBLISH_TO_STREAMS` takes it: the JSON object without `p` and
 * without its closing brace (the script appends `,"p":{…}}`). The bytes are those of
 * `JSON.stringify` in this field order, `x` left out when there is no `except`.
 */
export function envelopeHead({ o, g, t, x, l, a }: Omit<Envelope, 'p'>): string {
  return JSON.stringify({ o, g, t, x, l, a }).slice(0, -1);
}

/** A payload's envelope and frame, or undefined when it is not one. */
export function decodePayload(payload: string): BusPayload | undefined {
  const newline = payload.indexOf('\n');
  if (newline < 0) return undefined;
  const envelope = parseJson(payload.slice(0, newline));
  return isEnvelope(envelope) ? { envelope, frame: payload.slice(newline + 1) } : undefined;
}

/** A message on the control channel: a disconnect, and the instance that published it. */
export interface ControlMessage {
  /** Origin: the publishing instance's id. */
  o: string;
  /** Message: what to do on every other instance. */
  m: DisconnectMessage;
}

export type DisconnectMessage = Extract<BusMessage, { kind: 'disconnect' }>;

export function encodeControl(message: ControlMessage): string {
  return JSON.stringify({ o: message.o, m: message.m });
}

/** A control channel message, or undefined when it is not one. */
export function decodeControl(data: string): ControlMessage | undefined {
  const value = parseJson(data);
  if (!isRecord(value) || typeof value.o !== 'string' || !isDisconnect(value.m)) return undefined;
  return { o: value.o, m: value.m };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isEnvelope(value: unknown): value is Envelope {
  return (
    isRecord(value) &&
    typeof value.o === 'string' &&
    isGatewayName(value.g) &&
    Array.isArray(value.t) &&
    value.t.every((topic) => typeof topic === 'string') &&
    (value.x === undefined || typeof value.x === 'string') &&
    (value.l === 0 || value.l === 1) &&
    typeof value.a === 'number' &&
    isPositions(value.p)
  );
}

function isDisconnect(value: unknown): value is DisconnectMessage {
  return (
    isRecord(value) &&
    value.kind === 'disconnect' &&
    typeof value.connectionId === 'string' &&
    typeof value.code === 'number' &&
    typeof value.reason === 'string' &&
    (value.gateway === undefined || isGatewayName(value.gateway)) &&
    (value.claim === undefined ||
      (isRecord(value.claim) && typeof value.claim.at === 'number' && typeof value.claim.instance === 'string'))
  );
}

function isPositions(value: unknown): value is Positions {
  return isRecord(value) && Object.values(value).every(isPosition);
}

function isPosition(value: unknown): value is StreamPosition {
  return isRecord(value) && typeof value.offset === 'number' && typeof value.epoch === 'string';
}

function isGatewayName(value: unknown): value is GatewayName {
  return typeof value === 'string' && value.length > 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
