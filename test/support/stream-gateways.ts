import { ADMIN_TOKEN, type Endpoints } from './test-app.js';
import { TestClient, type Frame } from './test-client.js';
import { hsToken } from './tokens.js';
import { sampleExperimentProgress } from './scheduler-client.js';

/** A position in a stream (SPEC.md §11). */
export interface Position {
  offset: number;
  epoch: string;
}

/** One event of the test's stream as a client received it: its publish index and its position. */
export interface Received {
  i: number;
  position: Position;
}

/**
 * One stream of one gateway, driven the way its clients and services do it (sockets, REST), so the
 * same recovery tests run on every gateway, in-process or against separate processes.
 */
export interface StreamGateway {
  name: string;
  /** Opens a connection in the stream, resuming after `since`; resolves once the join's reply came. */
  open(t: Endpoints, since?: Position): Promise<{ client: TestClient; joined: Frame }>;
  /** Publishes event `i` of the stream through `t`. */
  publish(t: Endpoints, i: number): Promise<void>;
  /** Whether `frame` is one of the stream's events (positions or not). */
  isEvent(frame: Frame): boolean;
  /** The stream's events `client` received, in arrival order, with their positions. */
  received(client: TestClient): Received[];
}

const query = (since?: Position): string => (since ? `?offset=${since.offset}&epoch=${since.epoch}` : '');

function expectOk(status: number, what: string): void {
  if (status !== 200) throw new Error(`${what} answered ${status}`);
}

/** The streams of the four gateways, named with `tag` so that test files and deployments never share one. */
export function streamGateways(tag: string): { gateways: StreamGateway[]; close(): Promise<void> } {
  const room = `channel:${Math.floor(Math.random() * 1e9)}`;
  const experiment = `rc-exp-${tag}`;
  const clientId = `rc-client-${tag}`;
  /** Checkpoint ids → publish index, and the session (made by the first publish or open). */
  const checkpointIndex = new Map<string, number>();
  let session: Promise<string> | undefined;
  /** A publishing connection per instance (by base URL). */
  const checkpointPublishers = new Map<string, Promise<TestClient>>();

  const rpc = async (client: TestClient, method: string, params: Frame): Promise<Frame> => {
    const id = `${method}-${Math.random()}`;
    client.send({ id, method, params });
    const response = await client.next((f) => f.id === id, 5000);
    if (!response.success) throw new Error(`${method}: ${JSON.stringify(response)}`);
    return response;
  };
  const keepers = new Map<string, Promise<{ client: TestClient }>>();
  const joinRoom = async (t: Endpoints, since?: Position): Promise<{ client: TestClient; joined: Frame }> => {
    const client = await t.chat({ sub: `rc-${tag}`, username: 'rc' });
    client.send({ type: 'join_room', room, ...(since && { data: { since } }) });
    const reply = await client.next((f) => f.type === 'room_joined' || f.type === 'error', 5000);
    if (reply.type !== 'room_joined') throw new Error(`join_room: ${JSON.stringify(reply)}`);
    return { client, joined: reply.data };
  };
  const checkpointClient = (t: Endpoints): Promise<TestClient> =>
    TestClient.open(t.wsUrl('/ws/checkpoints', hsToken({ sub: `rc-${tag}` })));
  const sessionOn = (t: Endpoints): Promise<string> =>
    (session ??= checkpointClient(t).then(async (client) => {
      const { result } = await rpc(client, 'create_session', { name: 'recovery' });
      client.close();
      return result as string;
    }));

  const gateways: StreamGateway[] = [
    {
      name: 'chat',
      async open(t, since) {
        // Another tab of the user stays in the room, so that joins and leaves announce nothing:
        // the room's stream holds only the test's events.
        await (keepers.get(t.baseUrl) ?? keepers.set(t.baseUrl, joinRoom(t)).get(t.baseUrl));
        return joinRoom(t, since);
      },
      async publish(t, i) {
        const body = { room, type: 'message', data: { i } };
        expectOk((await t.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body })).status, 'publish');
      },
      isEvent: (f) => f.type === 'message' && f.room === room,
      received: (client) =>
        client.frames
          .filter((f) => f.type === 'message' && f.room === room)
          .map((f) => ({ i: f.data.i, position: flat(f, room) })),
    },
    {
      name: 'scheduler',
      async open(t, since) {
        const url = t.wsUrl(`/ws/experiments/${experiment}${query(since)}`, hsToken({ sub: `rc-${tag}` }));
        const client = await TestClient.open(url);
        const reply = await client.next(() => true, 5000);
        if (reply.data?.action !== 'subscribed') throw new Error(`subscribe: ${JSON.stringify(reply)}`);
        return { client, joined: reply.data };
      },
      async publish(t, i) {
        const body = {
          gateway: 'scheduler',
          type: 'experiment_progress',
          data: sampleExperimentProgress(experiment, { i }),
          scope: { experimentId: experiment },
        };
        expectOk((await t.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body })).status, 'publish');
      },
      isEvent: (f) => f.type === 'experiment_progress',
      received: (client) =>
        client.frames
          .filter((f) => f.type === 'experiment_progress')
          .map((f) => ({ i: f.data.i, position: f.positions[`experiment:${experiment}`] })),
    },
    {
      name: 'checkpoint',
      async open(t, since) {
        const sessionId = await sessionOn(t);
        const client = await checkpointClient(t);
        const { result } = await rpc(client, 'subscribe', { session_id: sessionId, ...(since && { since }) });
        return { client, joined: result };
      },
      async publish(t, i) {
        const sessionId = await sessionOn(t);
        let publisher = checkpointPublishers.get(t.baseUrl);
        if (!publisher) checkpointPublishers.set(t.baseUrl, (publisher = checkpointClient(t)));
        const publisherClient = await publisher;
        const { result } = await rpc(publisherClient, 'checkpoint', { session_id: sessionId, message: `m${i}` });
        checkpointIndex.set(result as string, i);
      },
      isEvent: (f) => f.event_type === 'checkpoint_created',
      received: (client) =>
        client.frames
          .filter((f) => f.event_type === 'checkpoint_created')
          .map((f) => ({ i: checkpointIndex.get(f.data.checkpoint_id) ?? -1, position: flat(f, f.stream) })),
    },
    {
      name: 'notify',
      async open(t, since) {
        const client = await TestClient.open(t.wsUrl(`/ws/${clientId}${query(since)}`, hsToken({ sub: `rc-${tag}` })));
        const welcome = await client.next(() => true, 5000);
        if (welcome.type !== 'connected') throw new Error(`welcome: ${JSON.stringify(welcome)}`);
        return { client, joined: welcome.content.streams[`client:${clientId}`] };
      },
      async publish(t, i) {
        const body = { type: 'n', content: i, client_id: clientId };
        expectOk((await t.http('POST', '/ws/send-message', { token: ADMIN_TOKEN, body })).status, 'send-message');
      },
      isEvent: (f) => f.type === 'n',
      received: (client) =>
        client.frames
          .filter((f) => f.type === 'n')
          .map((f) => ({ i: f.content, position: flat(f, `client:${clientId}`) })),
    },
  ];
  const close = async (): Promise<void> => {
    for (const publisher of checkpointPublishers.values()) (await publisher.catch(() => undefined))?.close();
    for (const keeper of keepers.values()) (await keeper.catch(() => undefined))?.client.close();
  };
  return { gateways, close };
}

/** A one-stream event's position, checked to name `stream`. */
function flat(frame: Frame, stream: string): Position {
  if (frame.stream !== stream) throw new Error(`event of stream ${String(frame.stream)}, expected ${stream}`);
  return { offset: frame.offset, epoch: frame.epoch };
}

/** `from`, `from + 1`, … `to` (inclusive). */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, k) => from + k);
