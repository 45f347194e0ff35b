/**
 * Where an event stands in its stream (SPEC.md §11): `offset` grows by one per event of the stream,
 * `epoch` changes when the stream's history is lost, so a client can tell "nothing missed" from
 * "history gone". @publicApi
 */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/**
 * How a gateway's frames carry positions. `flat`: the event belongs to one stream, the frame gets
 * `"stream"`, `"offset"` and `"epoch"`. `map`: the event is routed to several streams at once
 * (scheduler resources), the frame gets `"positions": {stream: {offset, epoch}}`, and the streams
 * of one gateway are sequenced together (on Redis Cluster, in one hash slot).
 */
export type PositionStyle = 'flat' | 'map';

/** A stream's key in per-process maps: its gateway and topic. */
export const streamKey = (gateway: string, topic: string): string => `${gateway}\u0000${topic}`;

/** The stream of every connection of a gateway (notify broadcasts, scheduler `system_status`). */
export const BROADCAST = 'broadcast';

/** A stream's retained events after a position, and where the stream is now. */
export interface HistoryRead {
  /** The stream's current position: offset 0 when it has had no event in this epoch. */
  position: StreamPosition;
  /** The position asked for was found: `entries` are every event after it, in order. */
  recovered: boolean;
  /** Shared by every resume of one read: read-only. */
  readonly entries: readonly HistoryEntry[];
}

export interface HistoryEntry {
  /** The frame as subscribers received it, positions included. */
  frame: string;
  /** The event's position in each of its streams. */
  positions: Positions;
  /** The user whose connections the event is not for (a user is not told of its own arrival). */
  except?: string;
}

export type Positions = Record<string, StreamPosition>;

/**
 * The frame `json` (an object) with `positions` added, in `style`. The one place the wire format
 * of positions is written; the Redis publish script writes the same bytes.
 */
export function withPositions(
  json: string,
  style: PositionStyle,
  topics: readonly string[],
  positions: Positions,
): string {
  const head = frameHead(json);
  if (style === 'flat') {
    const { offset, epoch } = positions[topics[0]];
    return `${head}"stream":${JSON.stringify(topics[0])},"offset":${offset},"epoch":${JSON.stringify(epoch)}}`;
  }
  const entries = topics.map((topic) => `${JSON.stringify(topic)}:${JSON.stringify(positions[topic])}`);
  return `${head}"positions":{${entries.join(',')}}}`;
}

/** The JSON object `json` without its closing brace, ready for one more field. */
export function frameHead(json: string): string {
  const head = json.slice(0, json.lastIndexOf('}'));
  return /\{\s*$/.test(head) ? head : `${head},`;
}

/** A position a client sent, or undefined when it is not one. */
export function parsePosition(value: unknown): StreamPosition | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { offset, epoch } = value as Record<string, unknown>;
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > 64) return undefined;
  const number = typeof offset === 'string' && /^\d{1,15}$/.test(offset) ? Number(offset) : offset;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) return undefined;
  return { offset: number, epoch };
}

/** A fresh epoch: 8 random base-36 characters. */
export function newEpoch(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, '0');
}

/**
 * Where a client resumes the streams a connection opens with (SPEC.md §11), from the upgrade's query
 * string: `offset` and `epoch` for the path's stream (a scheduler resource, a notify client),
 * `broadcast_offset` and `broadcast_epoch` for the gateway's broadcast stream.
 */
export interface ResumeFrom {
  stream?: StreamPosition;
  broadcast?: StreamPosition;
}

export function resumeFromQuery(query: URLSearchParams): ResumeFrom | undefined {
  const at = (prefix: string): StreamPosition | undefined =>
    parsePosition({
      offset: query.get(`${prefix}offset`) ?? undefined,
      epoch: query.get(`${prefix}epoch`) ?? undefined,
    });
  const stream = at('');
  const broadcast = at('broadcast_');
  return stream || broadcast ? { stream, broadcast } : undefined;
}
