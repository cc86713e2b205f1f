import { readFileSync, statSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { MqttChannelConfig } from './config.js';
import { EmbeddedBroker, type BrokerCredentials, type BrokerTls } from './embedded-broker.js';
import { filterCovers, unitTopic } from './mqtt-topics.js';
import type { ReadsAccess } from './types.js';

/**
 * Reaching the MQTT broker for the alert channel (src/alerts/mqtt.ts): the credentials file, the broker's URL, TLS
 * files, and the client options for the embedded broker the unit runs or for an external one.
 */

export interface ChannelLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** How long an external broker keeps the unit's session (and the acks sent to it) while the unit is away. */
const SESSION_EXPIRY_S = 24 * 3600;

/**
 * Reads a "username:password" file (one line; the password may hold ':'). The error names the file and what
 * is wrong with it, never its content.
 */
export function readCredentialsFile(path: string, what = 'mqtt.credentialsFile'): BrokerCredentials & { looseMode: boolean } {
  if (path === '') throw new Error(`${what} is not set: the broker must authenticate every client (a file holding "username:password")`);
  let text: string;
  let looseMode = false;
  try {
    text = readFileSync(path, 'utf8');
    looseMode = (statSync(path).mode & 0o077) !== 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${what} ${path}: cannot read it (${code ?? (err as Error).message})`);
  }
  const lines = text.split(/\r?\n/).filter((line) => line.length > 0);
  if (lines.length !== 1) {
    throw new Error(`${what} ${path}: expected one line "username:password", found ${lines.length} non-empty lines`);
  }
  const line = lines[0]!;
  const colon = line.indexOf(':');
  if (colon <= 0) throw new Error(`${what} ${path}: expected "username:password" (no username before a ':')`);
  const username = line.slice(0, colon);
  const password = line.slice(colon + 1);
  if (password.length === 0) throw new Error(`${what} ${path}: the password after ':' is empty`);
  return { username, password, looseMode };
}

/** The URL as it may be shown: no user info. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparsable URL)';
  }
}

/** Where the channel connects, with the client options of that broker (merged over the channel's own). */
export interface BrokerClient {
  url: string;
  options: IClientOptions;
}

/**
 * Starts the embedded broker on alerts.mqtt.listenHost:listenPort, for the terminals of the car's network, and says
 * how the unit itself connects to it. `onAlertsSubscribed`: a terminal now receives alerts; `onReadsSubscribed`: a
 * terminal now receives reads (with publishReads on).
 */
export async function startEmbeddedBroker(
  config: MqttChannelConfig,
  unitId: string,
  clientId: string,
  logger: ChannelLogger | undefined,
  hooks: { onAlertsSubscribed: () => void; onReadsSubscribed: (a: ReadsAccess) => void },
): Promise<BrokerClient & { broker: EmbeddedBroker }> {
  const terminal = readCredentialsFile(config.credentialsFile);
  warnLooseMode(config, logger, terminal.looseMode);
  const tls = readBrokerTls(config, logger);
  const broker = new EmbeddedBroker({
    unitId,
    users: [{ username: terminal.username, password: terminal.password }],
    unitClientId: clientId,
    ...(logger !== undefined ? { logger } : {}),
    // a terminal is listening now: what is pending goes at once, not after the outbox's back-off
    // (an alert sent before it subscribed never reached it: that attempt is given up, so it goes again now)
    onTerminalSubscribed: ({ filters }) => {
      if (filters.some((f) => filterCovers(f, unitTopic(unitId, 'alerts')))) hooks.onAlertsSubscribed();
    },
    onSubscribed: ({ username, clientId, filter }) => {
      const topic = unitTopic(unitId, 'reads');
      if (!config.publishReads || !filterCovers(filter, topic)) return;
      const where = broker.address();
      const at = where ? `embedded broker ${where.host}:${where.port}` : 'embedded broker';
      hooks.onReadsSubscribed({ who: username ?? '(anonymous)', role: 'terminal', topic, filter, clientId, broker: at });
    },
  });
  await broker.start(config.listenHost, config.listenPort, tls);
  if (tls === undefined && !isLoopback(config.listenHost)) {
    logger?.warn(
      { listenHost: config.listenHost, listenPort: config.listenPort },
      'embedded MQTT broker listens beyond this machine without TLS: the terminal password and the alerts cross the car network in clear (set alerts.mqtt.tlsCertFile and tlsKeyFile)',
    );
  }
  // aedes speaks 3.1.1 only.
  return { broker, url: broker.unitUrl()!, options: { protocolVersion: 4, username: broker.unitCredentials.username, password: broker.unitCredentials.password } };
}

/** How the unit connects to the agency's broker at alerts.mqtt.url. */
export function externalBroker(config: MqttChannelConfig, logger: ChannelLogger | undefined): BrokerClient {
  const url = parseBrokerUrl(config.url);
  const credentials = readCredentialsFile(config.credentialsFile);
  warnLooseMode(config, logger, credentials.looseMode);
  const tls = url.protocol === 'mqtts:' || url.protocol === 'wss:';
  let ca: Buffer | undefined;
  if (config.caFile !== '') {
    if (!tls) logger?.warn({ url: displayUrl(config.url) }, 'mqtt.caFile is set but the URL is not mqtts:// or wss://; it is not used');
    try {
      ca = readFileSync(config.caFile);
    } catch (err) {
      throw new Error(`mqtt.caFile ${config.caFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (!tls && !isLoopback(url.hostname)) {
    logger?.warn({ url: displayUrl(config.url) }, 'MQTT broker without TLS: the password and the alerts cross the network in clear');
  }
  // MQTT 5 so that a broker refusing a publish (e.g. an ACL) says so in the PUBACK instead of dropping it.
  return {
    url: config.url,
    options: {
      protocolVersion: 5,
      // Under MQTT 5 a session without an expiry ends with the connection; keep it a day.
      properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
      username: credentials.username,
      password: credentials.password,
      ...(tls ? { rejectUnauthorized: true, ...(ca !== undefined ? { ca } : {}) } : {}),
    },
  };
}

function warnLooseMode(config: MqttChannelConfig, logger: ChannelLogger | undefined, loose: boolean): void {
  if (loose) logger?.warn({ file: config.credentialsFile }, 'mqtt.credentialsFile is readable by group or others; chmod 600 it');
}

/** The embedded broker's certificate and key (alerts.mqtt.tlsCertFile, tlsKeyFile), or none for plain MQTT. */
function readBrokerTls(config: MqttChannelConfig, logger: ChannelLogger | undefined): BrokerTls | undefined {
  const { tlsCertFile, tlsKeyFile } = config;
  if (tlsCertFile === '' && tlsKeyFile === '') return undefined;
  if (tlsCertFile === '' || tlsKeyFile === '') {
    throw new Error(`alerts.mqtt.${tlsCertFile === '' ? 'tlsCertFile' : 'tlsKeyFile'} is not set: the embedded broker's TLS needs both a certificate and its key`);
  }
  const load = (key: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`alerts.mqtt.${key} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const key = load('tlsKeyFile', tlsKeyFile);
  if ((statSync(tlsKeyFile).mode & 0o077) !== 0) logger?.warn({ file: tlsKeyFile }, 'alerts.mqtt.tlsKeyFile is readable by group or others; chmod 600 it');
  return { cert: load('tlsCertFile', tlsCertFile), key };
}

function parseBrokerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`mqtt.url ${JSON.stringify(url)} is not a URL (e.g. mqtts://broker.example:8883)`);
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new Error(`mqtt.url ${displayUrl(url)}: scheme ${parsed.protocol} is not one of mqtt://, mqtts://, ws://, wss://`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new Error(`mqtt.url ${displayUrl(url)} holds a username or password: put "username:password" in mqtt.credentialsFile instead`);
  }
  return parsed;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

export function formatAddress(address: { host: string; port: number } | null, host: string, port: number): string {
  const a = address ?? { host, port };
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
