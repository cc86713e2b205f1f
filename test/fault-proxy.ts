import net from 'node:net';

/**
 * A real TCP proxy on loopback in front of a server, that breaks the link on demand: the failures a unit in a car
 * meets on a cellular uplink. It works on bytes, so HTTPS passes through untouched (the client still verifies the
 * server's certificate, for 127.0.0.1).
 */

export type FaultMode =
  /** Forward both ways. */
  | 'pass'
  /** Accept and destroy the socket at once (a server going down). stop() gives a true ECONNREFUSED. */
  | 'refuse'
  /** Accept, read everything, never answer, never close. */
  | 'hang'
  /** Forward the request; forward only the first cutBytes of the response, then destroy both sockets. */
  | 'cut-response'
  /** Forward only the first cutBytes of the request to the server, then destroy both sockets. */
  | 'cut-request'
  /** Forward, but delay each chunk from the server by delayMs and hand it over in small pieces. */
  | 'slow';

export interface FaultProxy {
  /** The port the proxy listens on (127.0.0.1); the same across stop() / start(). */
  readonly port: number;
  url(scheme: 'http' | 'https'): string;
  /** Applies to connections accepted from now on. */
  mode: FaultMode;
  cutBytes: number;
  delayMs: number;
  /** Connections accepted so far (whatever the mode): did anything reach the proxy? */
  connections: number;
  /** Bytes forwarded to the server, and back to clients. */
  bytesToServer: number;
  bytesToClient: number;
  /** Called on each accepted connection, with its number (1, 2, …). */
  onConnection?: (n: number) => void;
  /** Closes the listening port and drops every connection: connecting now fails with ECONNREFUSED. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Closes the port and destroys every socket. */
  close(): Promise<void>;
}

/** Largest piece a 'slow' chunk is handed over in. */
const SLOW_PIECE_BYTES = 64;

export async function startFaultProxy(
  target: { host: string; port: number },
  opts: { mode?: FaultMode; cutBytes?: number; delayMs?: number } = {},
): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): net.Socket => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // a peer's reset is part of the game, never an uncaught error
    s.on('error', () => s.destroy());
    return s;
  };
  const dropAll = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };

  /** The socket to the server; when one side closes, the other is destroyed (unless `linked` is false). */
  const connectUpstream = (client: net.Socket, linked = true): net.Socket => {
    const upstream = track(net.connect({ host: target.host, port: target.port, allowHalfOpen: true }));
    upstream.setNoDelay(true);
    if (linked) client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    return upstream;
  };

  const onSocket = (client: net.Socket): void => {
    track(client);
    client.setNoDelay(true);
    proxy.connections++;
    proxy.onConnection?.(proxy.connections);
    const mode = proxy.mode;
    const cutBytes = proxy.cutBytes;
    const delayMs = proxy.delayMs;
    switch (mode) {
      case 'refuse':
        client.destroy();
        return;
      case 'hang':
        client.resume();
        return;
      case 'pass': {
        const upstream = connectUpstream(client);
        forward(client, upstream, (n) => (proxy.bytesToServer += n));
        forward(upstream, client, (n) => (proxy.bytesToClient += n));
        return;
      }
      case 'cut-response': {
        const upstream = connectUpstream(client);
        forward(client, upstream, (n) => (proxy.bytesToServer += n));
        let sent = 0;
        upstream.on('data', (chunk: Buffer) => {
          if (sent >= cutBytes) return;
          const part = chunk.subarray(0, cutBytes - sent);
          sent += part.length;
          proxy.bytesToClient += part.length;
          if (sent < cutBytes) {
            client.write(part);
            return;
          }
          upstream.pause();
          client.write(part, () => {
            client.destroy();
            upstream.destroy();
          });
        });
        upstream.on('end', () => client.end());
        return;
      }
      case 'cut-request': {
        const upstream = connectUpstream(client, false);
        let sent = 0;
        let cut = false;
        client.on('close', () => {
          if (!cut) upstream.destroy();
        });
        client.on('data', (chunk: Buffer) => {
          if (cut) return;
          const part = chunk.subarray(0, cutBytes - sent);
          sent += part.length;
          proxy.bytesToServer += part.length;
          if (sent < cutBytes) {
            upstream.write(part);
            return;
          }
          cut = true;
          client.destroy();
          // end, then destroy: the bytes given reach the server before the link drops
          upstream.end(part, () => upstream.destroy());
        });
        forward(upstream, client, (n) => (proxy.bytesToClient += n));
        return;
      }
      case 'slow': {
        const upstream = connectUpstream(client);
        forward(client, upstream, (n) => (proxy.bytesToServer += n));
        let queue = Promise.resolve();
        upstream.on('data', (chunk: Buffer) => {
          queue = queue.then(async () => {
            await sleep(delayMs);
            for (let i = 0; i < chunk.length && !client.destroyed; i += SLOW_PIECE_BYTES) {
              const piece = chunk.subarray(i, i + SLOW_PIECE_BYTES);
              proxy.bytesToClient += piece.length;
              client.write(piece);
              await sleep(1);
            }
          });
        });
        upstream.on('end', () => {
          queue = queue.then(() => {
            client.end();
          });
        });
        return;
      }
    }
  };

  const createServer = (): net.Server => net.createServer({ allowHalfOpen: true }, onSocket);
  let server = createServer();
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      dropAll();
    });

  const port = await listen(0);
  const proxy: FaultProxy = {
    port,
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    mode: opts.mode ?? 'pass',
    cutBytes: opts.cutBytes ?? 20,
    delayMs: opts.delayMs ?? 200,
    connections: 0,
    bytesToServer: 0,
    bytesToClient: 0,
    stop: stopListening,
    start: async () => {
      if (server.listening) return;
      server = createServer();
      await listen(port);
    },
    close: stopListening,
  };
  return proxy;
}

function forward(from: net.Socket, to: net.Socket, count: (n: number) => void): void {
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
