import net from 'node:net';
import { performance } from 'node:perf_hooks';

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  /** Bytes either way are dropped: a dead network, or a server that hangs. */
  silent: boolean;
  pending: Buffer[];
}

/**
 * A TCP proxy in front of the server (the network, a load balancer): it records when each
 * connection arrives and its request head, and can cut every connection at once, refuse new ones
 * (the server is gone) or silence them (bytes vanish, nothing is closed).
 */
export class TcpProxy {
  /** `performance.now()` of every connection accepted. */
  readonly arrivals: number[] = [];
  /** The HTTP request head of every connection (request line and headers). */
  readonly heads: string[] = [];
  /** New connections are closed at once. */
  refusing = false;
  /** New connections are accepted, and nothing they send is ever answered. */
  silent = false;
  port = 0;
  private readonly pairs = new Set<Pair>();
  private readonly server = net.createServer((socket) => this.accept(socket));

  constructor(private readonly targets: () => number[]) {}

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every open connection goes silent (new ones are not affected). */
  silenceAll(): void {
    for (const pair of this.pairs) pair.silent = true;
  }

  /** Cuts every open connection at once. */
  dropAll(): void {
    for (const pair of [...this.pairs]) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
  }

  async close(): Promise<void> {
    this.refusing = true;
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.arrivals.push(performance.now());
    client.on('error', () => undefined);
    if (this.refusing) return void client.destroy();
    const pair: Pair = { client, silent: this.silent, pending: [] };
    this.pairs.add(pair);
    let head = '';
    client.on('data', (chunk: Buffer) => {
      if (!head) this.heads.push((head = chunk.toString('latin1').split('\r\n\r\n')[0]));
      if (pair.silent) return;
      if (pair.upstream) pair.upstream.write(chunk);
      else pair.pending.push(chunk);
    });
    client.on('close', () => {
      this.pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (!pair.silent) this.connect(pair, this.targets());
  }

  /** Connects to the first target that answers (a dead instance refuses: the next one is tried). */
  private connect(pair: Pair, targets: number[]): void {
    const [port, ...others] = targets;
    if (port === undefined || pair.client.destroyed) return void pair.client.destroy();
    const upstream = net.connect(port, '127.0.0.1');
    let connected = false;
    upstream.on('error', () => {
      if (!connected) this.connect(pair, others);
    });
    upstream.once('connect', () => {
      connected = true;
      if (pair.client.destroyed) return void upstream.destroy();
      pair.upstream = upstream;
      for (const chunk of pair.pending.splice(0)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!pair.silent) pair.client.write(chunk);
    });
    upstream.on('close', () => {
      if (connected) pair.client.destroy();
    });
  }
}
