// The load balancer in front of the reconnect storm: a TCP proxy that sends each new connection to
// the first backend that is in rotation and accepts it. A backend with a `health` path is polled
// every `HEALTH_PERIOD_MS` (a readiness probe: out of rotation while it answers other than 200 or
// refuses connections); a refused connect tries the next backend, as a balancer retries on another
// upstream.
import { connect, createServer } from 'node:net';

const HEALTH_PERIOD_MS = 100;

/**
 * Listens on 127.0.0.1 in front of `backends` (`[{port, health?}]`, in order of preference);
 * resolves with `{port, close()}`.
 */
export async function startFailoverProxy(backends) {
  const inRotation = backends.map(() => true);
  const probing = backends.map(() => false);
  const probes = backends.map((backend, i) =>
    backend.health
      ? setInterval(() => {
          // One probe at a time per backend: a slow answer does not pile probes up on a busy instance.
          if (probing[i]) return;
          probing[i] = true;
          fetch(`http://127.0.0.1:${backend.port}${backend.health}`, { signal: AbortSignal.timeout(5000) })
            .then(
              (response) => {
                inRotation[i] = response.ok;
                return response.body?.cancel();
              },
              // Refused: the instance is gone. A probe that timed out (a busy instance) changes nothing.
              (error) => {
                if (error.cause?.code === 'ECONNREFUSED') inRotation[i] = false;
              },
            )
            .finally(() => (probing[i] = false));
        }, HEALTH_PERIOD_MS)
      : undefined,
  );
  const sockets = new Set();
  const track = (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return socket;
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => undefined);
    const attempt = (i) => {
      while (i < backends.length && !inRotation[i]) i++;
      if (i >= backends.length) return client.destroy();
      const upstream = track(connect({ host: '127.0.0.1', port: backends[i].port }));
      upstream.once('error', () => {
        if (client.destroyed) return;
        attempt(i + 1);
      });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.setNoDelay(true);
        client.setNoDelay(true);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close() {
      for (const probe of probes) clearInterval(probe);
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
