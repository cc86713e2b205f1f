import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { TOPIC_ROOT, TOPICS, classifyTopic, topicLevelProblem, unitFilter } from './mqtt-topics.js';

/**
 * An MQTT broker inside the unit, for the car's own network when there is no agency broker: the patrol
 * terminal connects to it. aedes speaks MQTT 3.1.1 only, so clients must connect with protocol version 4.
 *
 * Who may do what (P1: no anonymous path to data, P4: an officer receives hits and answers them, nothing else):
 * - the unit's own client logs in with a password made up at each start that never leaves the process; it may
 *   publish the unit's `status`, `reads`, `alerts`, `health` and subscribe to the acks;
 * - a terminal logs in with a username and password from the credentials file; it may subscribe under
 *   `alpr/<unit>/` and publish only acks, `alpr/<unit>/alerts/<id>/ack`. A refused publish closes its
 *   connection (3.1.1 has no negative PUBACK); a refused subscription gets a failure return code.
 * - nobody else: anonymous clients are refused unless `allowAnonymous` is set, which exists for tests only.
 *
 * Two listeners: the one terminals use (`listenHost:listenPort`, plain TCP or, with a certificate and key, TLS
 * only), and a loopback one on a free port that only the unit's own client may log in on, so the unit's password
 * never crosses the terminal listener and the unit needs no certificate of its own.
 */

/** The terminal listener's TLS: PEM certificate (with its chain) and private key. */
export interface BrokerTls {
  cert: Buffer;
  key: Buffer;
}

export interface BrokerCredentials {
  username: string;
  password: string;
}

export interface EmbeddedBrokerOptions {
  unitId: string;
  /** Accounts of the terminals (from the channel's credentials file). */
  users: BrokerCredentials[];
  /** The client id the unit's own client uses; nobody else may take it (that would knock the unit off). */
  unitClientId: string;
  /** Let clients without a username in, as terminals. For tests only: P1 forbids it on a unit. */
  allowAnonymous?: boolean;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Told of each subscription granted to a terminal (the unit records who subscribed to what). */
  onSubscribed?: (s: { username: string | null; clientId: string; filter: string }) => void;
  /**
   * Told once a terminal's subscriptions are in place (messages published from now on reach it): the unit
   * sends what is pending at once instead of waiting out its back-off.
   */
  onTerminalSubscribed?: (s: { clientId: string; filters: string[] }) => void;
}

type Role = 'unit' | 'terminal';

/** Return codes of a refused CONNECT (aedes' AuthErrorCode is a const enum, which isolated modules cannot use). */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const IDENTIFIER_REJECTED = 2;

function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

function refusal(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class EmbeddedBroker {
  /** The unit's own client's account: fresh at each start, held only in memory. */
  readonly unitCredentials: BrokerCredentials;
  private readonly options: EmbeddedBrokerOptions;
  private readonly roles = new WeakMap<Client, Role>();
  private readonly usernames = new WeakMap<Client, string>();
  private readonly userDigests: Array<{ username: string; password: Buffer }>;
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  /** The unit's own client's listener (loopback, free port). */
  private internal: Server | null = null;
  private readonly internalSockets = new WeakSet<object>();
  private tls = false;
  private readonly sockets = new Set<Socket>();
  private refusedConnects = 0;
  private refusedPublishes = 0;
  private refusedSubscriptions = 0;

  constructor(options: EmbeddedBrokerOptions) {
    const problem = topicLevelProblem(options.unitId);
    if (problem !== null) throw new Error(`unit id ${JSON.stringify(options.unitId)} cannot be an MQTT topic level: it ${problem}`);
    if (options.users.length === 0 && options.allowAnonymous !== true) {
      throw new Error('embedded MQTT broker: no terminal account (set mqtt.credentialsFile); anonymous clients are not allowed');
    }
    this.options = options;
    this.userDigests = options.users.map((u) => ({ username: u.username, password: digest(u.password) }));
    this.unitCredentials = { username: `alpr-edge-unit-${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('base64url') };
  }

  /** Starts both listeners: terminals on host:port (TLS when `tls` is given), the unit on a loopback port. */
  async start(host: string, port: number, tls?: BrokerTls): Promise<void> {
    if (this.server !== null) throw new Error('embedded MQTT broker already started');
    const aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
    });
    aedes.on('subscribe', (subscriptions, client) => {
      if (this.roles.get(client) !== 'terminal') return;
      // 128: refused (see authorizeSubscribe)
      const filters = subscriptions.filter((sub) => (sub.qos as number) !== 128).map((sub) => sub.topic);
      if (filters.length > 0) this.options.onTerminalSubscribed?.({ clientId: client.id, filters });
    });
    const handle = (socket: Socket, internal: boolean): void => {
      this.sockets.add(socket);
      // small packets both ways (an alert, then the terminal's PUBACK and receipt): Nagle would hold each ~40 ms
      socket.setNoDelay(true);
      if (internal) this.internalSockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    };
    let server: Server;
    try {
      server =
        tls === undefined
          ? createServer((socket) => handle(socket, false))
          : createTlsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (socket) => handle(socket, false));
    } catch (err) {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw new Error(`embedded MQTT broker: the TLS certificate or key is not usable (${(err as Error).message})`);
    }
    // a client that fails the TLS handshake is only logged
    server.on('tlsClientError', (err: Error) => this.options.logger?.warn({ err: err.message }, 'embedded MQTT broker: TLS handshake failed'));
    const internal = createServer((socket) => handle(socket, true));
    const listen = (what: Server, h: string, p: number): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        what.once('error', reject);
        what.listen(p, h, () => {
          what.off('error', reject);
          resolve();
        });
      });
    try {
      await listen(server, host, port);
    } catch (err) {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`embedded MQTT broker cannot listen on ${host}:${port}: ${code ?? (err as Error).message}`);
    }
    try {
      await listen(internal, '127.0.0.1', 0);
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw new Error(`embedded MQTT broker cannot listen on the loopback for the unit: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    for (const s of [server, internal]) s.on('error', (err) => this.options.logger?.warn({ err: err.message }, 'embedded MQTT broker: listener error'));
    this.aedes = aedes;
    this.server = server;
    this.internal = internal;
    this.tls = tls !== undefined;
    const where = this.address();
    this.options.logger?.info({ host: where?.host, port: where?.port, tls: this.tls }, `embedded MQTT broker listening (MQTT 3.1.1${this.tls ? ' over TLS' : ', no TLS'})`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    const internal = this.internal;
    const aedes = this.aedes;
    this.server = null;
    this.internal = null;
    this.aedes = null;
    if (server === null || aedes === null) return;
    const closed = Promise.all(
      [server, internal].map((s) => (s === null ? Promise.resolve() : new Promise<void>((resolve) => s.close(() => resolve())))),
    );
    // Closing the broker ends every client; sockets still half way through a CONNECT are cut here.
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Where the unit's own client connects (loopback, plain), or null when stopped. */
  unitUrl(): string | null {
    const address = this.internal?.address();
    if (address === null || address === undefined || typeof address === 'string') return null;
    return `mqtt://127.0.0.1:${(address as AddressInfo).port}`;
  }

  /** Whether terminals must speak TLS. */
  get usesTls(): boolean {
    return this.tls;
  }

  /** Where it listens, or null when stopped. */
  address(): { host: string; port: number } | null {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') return null;
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port };
  }

  stats(): { clients: number; refusedConnects: number; refusedPublishes: number; refusedSubscriptions: number } {
    return {
      clients: this.aedes?.connectedClients ?? 0,
      refusedConnects: this.refusedConnects,
      refusedPublishes: this.refusedPublishes,
      refusedSubscriptions: this.refusedSubscriptions,
    };
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const role = this.roleFor(username, password);
    const clientId = client.id;
    if (role === null) {
      this.refusedConnects += 1;
      const anonymous = username === undefined || username === '';
      this.options.logger?.warn({ clientId, username: anonymous ? null : username }, 'embedded MQTT broker: login refused');
      done(refusal(anonymous ? 'anonymous clients are not allowed' : 'bad username or password', anonymous ? NOT_AUTHORIZED : BAD_USERNAME_OR_PASSWORD), null);
      return;
    }
    // the unit logs in only on its loopback listener, terminals only on theirs
    const internal = this.internalSockets.has(client.conn as object);
    if ((role === 'unit') !== internal) {
      this.refusedConnects += 1;
      this.options.logger?.warn({ clientId, username: username ?? null }, 'embedded MQTT broker: login refused on this listener');
      done(refusal('bad username or password', BAD_USERNAME_OR_PASSWORD), null);
      return;
    }
    if (role === 'terminal' && clientId === this.options.unitClientId) {
      this.refusedConnects += 1;
      this.options.logger?.warn({ clientId, username }, "embedded MQTT broker: a terminal asked for the unit's client id");
      done(refusal('client id reserved for the unit', IDENTIFIER_REJECTED), null);
      return;
    }
    this.roles.set(client, role);
    if (username !== undefined && username !== '') this.usernames.set(client, username);
    done(null, true);
  }

  private roleFor(username: string | undefined, password: Buffer | undefined): Role | null {
    if (username === undefined || username === '') return this.options.allowAnonymous === true ? 'terminal' : null;
    if (password === undefined) return null;
    const given = digest(password);
    if (username === this.unitCredentials.username && timingSafeEqual(given, digest(this.unitCredentials.password))) return 'unit';
    // Compare against every account so the time taken does not tell which usernames exist.
    let match = false;
    for (const user of this.userDigests) {
      const same = timingSafeEqual(given, user.password);
      if (same && user.username === username) match = true;
    }
    return match ? 'terminal' : null;
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    // Only a client's own last will is published without a live client here (client null: wills of a broker
    // that died, which a single in-memory broker never has); refuse those.
    const role = client === null ? undefined : this.roles.get(client);
    const where = classifyTopic(packet.topic);
    const own = where !== null && where.unitId === this.options.unitId;
    const allowed =
      own &&
      ((role === 'unit' && TOPICS[where.key].from === 'unit') || (role === 'terminal' && TOPICS[where.key].from === 'terminal'));
    if (allowed) {
      done(null);
      return;
    }
    this.refusedPublishes += 1;
    this.options.logger?.warn({ clientId: client?.id ?? null, role: role ?? null, topic: packet.topic }, 'embedded MQTT broker: publish refused');
    done(new Error(`publishing to ${packet.topic} is not allowed`));
  }

  private authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const role = this.roles.get(client);
    const prefix = `${TOPIC_ROOT}/${this.options.unitId}/`;
    const filter = sub.topic;
    const allowed =
      role === 'terminal'
        ? filter === unitFilter(this.options.unitId) || (filter.startsWith(prefix) && filter.length > prefix.length)
        : role === 'unit'
          ? filter.startsWith(prefix)
          : false;
    if (allowed) {
      done(null, sub);
      if (role === 'terminal') this.options.onSubscribed?.({ username: this.usernames.get(client) ?? null, clientId: client.id, filter });
      return;
    }
    this.refusedSubscriptions += 1;
    this.options.logger?.warn({ clientId: client.id, role: role ?? null, filter }, 'embedded MQTT broker: subscription refused');
    // A null subscription answers with the 3.1.1 failure return code (0x80) and keeps the client connected.
    done(null, null);
  }
}
