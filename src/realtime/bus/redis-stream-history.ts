import type { GatewayName } from './event-bus.js';
import { decodePayload } from './bus-envelope.js';
import { redisMetaTtlMs, redisStreamKeys, type RedisEventBusOptions } from './redis-bus-options.js';
import { READ_STREAM } from './stream-scripts.js';
import { newEpoch, type HistoryEntry, type HistoryRead, type StreamPosition } from './stream-position.js';

/** What `READ_STREAM` is asked: every event after a position (`resume`), or the retained ones after an offset (`list`). */
export interface ReadRequest {
  mode: 'resume' | 'list';
  offset?: number;
  epoch?: string;
  limit?: number;
}

/** A stream's position and its payloads as they were published (envelope, newline, frame). */
export interface RawHistoryRead {
  position: StreamPosition;
  recovered: boolean;
  entries: string[];
}

/** How long a catch-up waits for the writer when the subscriber reconnected first. */
const WRITER_WAIT_MS = 15_000;
/** How many events of a stream one history read may return (every one a resume can ask for). */
const READ_LIMIT = 100_000;

/** The resumes asked during one event-loop turn, read when it ends: one read per stream and position. */
interface ReadTurn {
  ends: Promise<void>;
  reads: Map<string, Promise<HistoryRead>>;
}

/** Reads the streams' positions and histories in Redis (`READ_STREAM`), on the writer connection. */
export class RedisStreamHistory {
  private turn?: ReadTurn;

  constructor(private readonly options: Pick<RedisEventBusOptions, 'writer' | 'keys' | 'styles' | 'history'>) {}

  /**
   * A stream's history after `since`. Resumes of the same stream from the same position asked in
   * one turn (a reconnect storm: every client of a room comes back from where the room was) share
   * one read, sent once the turn ends: after every one of them joined, so none misses an event.
   */
  resume(gateway: GatewayName, topic: string, since?: StreamPosition): Promise<HistoryRead> {
    const turn = (this.turn ??= this.nextTurn());
    const key = `${gateway}\n${since?.offset ?? ''}\n${since?.epoch ?? ''}\n${topic}`;
    let read = turn.reads.get(key);
    if (!read) {
      read = turn.ends.then(async () => toHistoryRead(await this.read(gateway, topic, { mode: 'resume', ...since })));
      turn.reads.set(key, read);
    }
    return read;
  }

  async list(gateway: GatewayName, topic: string, since: number, limit: number): Promise<HistoryRead> {
    return toHistoryRead(await this.read(gateway, topic, { mode: 'list', offset: since, limit }));
  }

  /** One stream's position and payloads. */
  async read(
    gateway: GatewayName,
    topic: string,
    { mode, offset, epoch = '', limit = READ_LIMIT }: ReadRequest,
  ): Promise<RawHistoryRead> {
    const { writer, history } = this.options;
    const { meta, history: historyKey } = redisStreamKeys(this.options, gateway, topic);
    const reply = await READ_STREAM.run(
      writer,
      [meta, historyKey],
      [mode, offset ?? '', epoch, history?.ttlMs ?? 0, redisMetaTtlMs(history), limit, newEpoch()],
    );
    return decodeReadReply(reply);
  }

  private nextTurn(): ReadTurn {
    const ends = new Promise<void>((resolve) =>
      setImmediate(() => {
        this.turn = undefined;
        resolve();
      }),
    );
    return { ends, reads: new Map() };
  }

  /** Resolves once the writer is connected (the subscriber may be back first), or after a while. */
  writerReady(): Promise<void> {
    const { writer } = this.options;
    if (writer.status === 'ready') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        writer.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, WRITER_WAIT_MS).unref();
      writer.once('ready', done);
    });
  }
}

/** `READ_STREAM`'s reply, `{epoch, offset, recovered (0|1), payload…}`. */
function decodeReadReply(reply: unknown): RawHistoryRead {
  const items: unknown[] = Array.isArray(reply) ? reply : [];
  const [epoch, offset, recovered, ...entries] = items;
  if (
    typeof epoch !== 'string' ||
    typeof offset !== 'number' ||
    !entries.every((entry): entry is string => typeof entry === 'string')
  ) {
    throw new Error('Unexpected reply to a stream read');
  }
  return { position: { offset, epoch }, recovered: recovered === 1, entries };
}

function toHistoryRead(raw: RawHistoryRead): HistoryRead {
  return { position: raw.position, recovered: raw.recovered, entries: raw.entries.map(toEntry) };
}

function toEntry(payload: string): HistoryEntry {
  const decoded = decodePayload(payload);
  if (!decoded) throw new Error('Malformed bus payload in a stream history');
  const { envelope, frame } = decoded;
  return { frame, positions: envelope.p, except: envelope.x };
}
