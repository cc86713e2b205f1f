import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configuredChannels, createChannels } from '../src/alerts/channels.js';
import { SerialTerminal } from '../src/alerts/terminal-serial.js';
import type { AlertChannel, AlertDelivery } from '../src/alerts/types.js';
import { alertDelivery } from './alert-channel-contract.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { systemClock } from '../src/util/clock.js';
import { until } from './helpers.js';

/**
 * Alert channels are chosen by type from a registry (src/alerts/channels.ts), as cameras and position sources are:
 * `alerts.channels: [{ type: serial, ... }, { type: mqtt, ... }]`. The earlier form (alerts.serial / alerts.mqtt
 * with `enabled`) still loads and gives the same channels.
 */

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'unit.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.key}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('alert channels by type', () => {
  it('the earlier form (enabled flags) gives the channels the type-keyed form names, with the same keys', () => {
    const earlier = parseConfig(
      `alerts:
  serial: { enabled: true, port: /dev/ttyUSB3, baudRate: 9600, ackTimeoutMs: 700 }
  mqtt: { enabled: true, mode: embedded, listenPort: 8883, publishReads: true }
`,
      'earlier.yaml',
    );
    const typed = parseConfig(
      `alerts:
  channels:
    - { type: serial, port: /dev/ttyUSB3, baudRate: 9600, ackTimeoutMs: 700 }
    - { type: mqtt, mode: embedded, listenPort: 8883, publishReads: true }
`,
      'typed.yaml',
    );
    const channels = configuredChannels(earlier.alerts);
    expect(channels.map((c) => c.type)).toEqual(['serial', 'mqtt']);
    expect(channels).toEqual(configuredChannels(typed.alerts));
    expect(channels[0]).toMatchObject({ type: 'serial', port: '/dev/ttyUSB3', baudRate: 9600, ackTimeoutMs: 700, parity: 'none' });
    expect(channels[1]).toMatchObject({ type: 'mqtt', mode: 'embedded', listenPort: 8883, publishReads: true, receiptTimeoutMs: 5000 });
  });

  it('no channel: none in either form; a channel off in the earlier form is not made', () => {
    expect(configuredChannels(parseConfig('unit: { id: u1 }\n', 'a.yaml').alerts)).toEqual([]);
    expect(configuredChannels(parseConfig('alerts: { serial: { enabled: false, port: /dev/ttyS0 }, mqtt: { enabled: true } }\n', 'b.yaml').alerts).map((c) => c.type)).toEqual(['mqtt']);
    expect(configuredChannels(parseConfig('alerts: { channels: [] }\n', 'c.yaml').alerts)).toEqual([]);
  });

  it('config check says what is wrong and where: an unknown type, a type twice, both forms at once, a key of another type', () => {
    expect(problems('alerts: { channels: [{ type: pager }] }\n')).toEqual(['alerts.channels.0.type: unknown type; must be one of "serial", "mqtt"']);
    expect(problems('alerts: { channels: [{ type: serial, port: /dev/a }, { type: serial, port: /dev/b }] }\n')).toEqual([
      'alerts.channels.1.type: a second channel of type "serial": give each type once',
    ]);
    expect(problems('alerts:\n  channels: [{ type: mqtt }]\n  serial: { enabled: true, port: /dev/ttyUSB0 }\n')).toEqual([
      'alerts.serial.enabled: both alerts.channels and alerts.serial.enabled are given: list the serial channel in alerts.channels (type: serial) with its keys, and remove alerts.serial',
    ]);
    const [wrongKey] = problems('alerts: { channels: [{ type: serial, listenPort: 1883 }] }\n');
    expect(wrongKey).toMatch(/^alerts\.channels\.0\.listenPort: unknown key; allowed here: .*port, baudRate/);
    expect(wrongKey).not.toMatch(/listenHost/);
  });
});

describe('a channel made by its type delivers to a real terminal', () => {
  let dir: string;
  let socat: ChildProcess | undefined;
  let channels: AlertChannel[] = [];
  let terminal: SerialTerminal | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alpr-channels-'));
  });
  afterEach(async () => {
    for (const c of channels) await c.stop();
    channels = [];
    await terminal?.stop();
    terminal = undefined;
    if (socat && socat.exitCode === null) {
      const exited = new Promise((r) => socat!.once('exit', r));
      socat.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('alerts.channels with type serial: the serial channel on the configured port, its keys applied', async () => {
    socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${dir}/unit`, `pty,raw,echo=0,link=${dir}/term`], { stdio: 'ignore' });
    await until(() => existsSync(`${dir}/unit`) && existsSync(`${dir}/term`), 5000, 'socat links');
    const config = parseConfig(`alerts:\n  channels:\n    - { type: serial, port: ${JSON.stringify(`${dir}/unit`)}, baudRate: 57600, heartbeatMs: 200 }\n`, 'unit.yaml');
    channels = await createChannels(config.alerts, config.unit.id, createLogger('silent'), systemClock);
    expect(channels.map((c) => c.name)).toEqual(['serial']);
    const [channel] = channels as [AlertChannel];
    terminal = new SerialTerminal({ path: `${dir}/term`, heartbeatMs: 100, respTimeoutMs: 200, retryMinMs: 50, retryMaxMs: 200, clock: systemClock });
    await channel.start();
    await terminal.start();
    await until(() => channel.status().connected && terminal!.status().hearing, 5000, 'both ends hearing', () => channel.status());
    expect(channel.status().detail).toContain(`${dir}/unit 57600 8N1 open`);
    const shown: AlertDelivery[] = [];
    terminal.on('alert', (a) => shown.push(a.delivery));
    const d = alertDelivery(1);
    await channel.deliver(d);
    expect(shown).toEqual([d]);
    expect(channel.status()).toMatchObject({ name: 'serial', delivered: 1 });
  });
});
