/**
 * The alert channel contract (test/alert-channel-contract.ts) run against every AlertChannel the unit can pick
 * (src/alerts/channels.ts): the serial channel over a real serial line (two pseudo-terminals joined by socat) to
 * the terminal simulator, and the MQTT channel on a real mosquitto (mode "external") and on its own embedded
 * broker (mode "embedded"), with the MQTT terminal simulator. The channel classes are built directly, with the
 * configs their schemas give.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { mqttChannelSchema, serialChannelSchema } from '../src/alerts/config.js';
import { MqttAlertChannel } from '../src/alerts/mqtt.js';
import { SerialAlertChannel } from '../src/alerts/serial.js';
import { MqttTerminal } from '../src/alerts/terminal-mqtt.js';
import { SerialTerminal } from '../src/alerts/terminal-serial.js';
import type { AlertChannel } from '../src/alerts/types.js';
import { manualClock } from '../src/util/clock.js';
import { alertChannelContract, type AlertChannelRig, type ContractTerminal, type Shown } from './alert-channel-contract.js';
import { SocatPair, until } from './helpers.js';
import { freePort, Mosquitto } from './mosquitto.js';

/** 2026-03-14 09:26:53 UTC: every clock of the rigs stands here until a test moves it. */
const T0 = Date.UTC(2026, 2, 14, 9, 26, 53);
const UNIT = 'U7';
const UNIT_PASSWORD = 'unit-pw-4f9a:c2';
const OFFICER = 'officer12';
const OFFICER_PASSWORD = 'officer-pw-81be';

describe('alert channel contract: serial line to the terminal simulator (socat pair)', () => {
  alertChannelContract(async (): Promise<AlertChannelRig> => {
    const dir = mkdtempSync(path.join(tmpdir(), 'alpr-channel-contract-'));
    const cable = await SocatPair.open(`${dir}/unit`, `${dir}/term`);
    const clock = manualClock(T0);
    const channels: AlertChannel[] = [];
    const shown: Shown[] = [];
    const faults: Array<{ code: string; subject: string; state: 'RAISED' | 'CLEARED' }> = [];
    let terminal: SerialTerminal | null = null;
    const switchOn = async (autoAck: boolean): Promise<void> => {
      await terminal?.stop();
      const t = new SerialTerminal({ path: `${dir}/term`, autoAck, heartbeatMs: 200, respTimeoutMs: 300, retryMinMs: 50, retryMaxMs: 200, clock: manualClock(T0) });
      t.on('alert', (a) => shown.push({ delivery: a.delivery }));
      t.on('fault', (f) => faults.push({ code: f.code, subject: f.subject, state: f.state as 'RAISED' | 'CLEARED' }));
      await t.start();
      terminal = t;
    };
    const far: ContractTerminal = {
      on: () => switchOn(true),
      off: async () => {
        await terminal?.stop();
        terminal = null;
      },
      mute: () => switchOn(false),
      shown: () => shown,
      answer: async (alertId, accepted, reasonCode) => terminal!.respond(alertId, accepted, reasonCode ?? null, 'officer 7'),
      hearsUnit: () => terminal?.status().hearing ?? false,
      faults: () => faults,
    };
    return {
      name: 'serial',
      clock,
      make: (opts = {}) => {
        const config = serialChannelSchema.parse({
          enabled: true,
          port: `${dir}/unit`,
          heartbeatMs: 200,
          ...(opts.patient ? { ackTimeoutMs: 60_000, maxRetries: 0 } : { ackTimeoutMs: 150, maxRetries: 1 }),
        });
        const channel = new SerialAlertChannel(config, undefined, { clock, retryMinMs: 50, retryMaxMs: 200, ...(opts.patient ? { maxAckWaitMs: 600_000 } : {}) });
        channels.push(channel);
        return channel;
      },
      terminal: far,
      linkUp: (channel) => until(() => channel.status().detail.includes(`${dir}/unit 115200 8N1 open`), 10_000, 'the port open', () => channel.status()),
      capabilities: ['reportFaults'],
      cleanUp: async () => {
        for (const c of channels) await c.stop();
        await terminal?.stop();
        await cable.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

let rigCount = 0;

/** An MQTT rig: the channel in `mode`, its terminal on the broker the channel uses. */
async function mqttRig(mode: 'external' | 'embedded', mosquitto: Mosquitto | null): Promise<AlertChannelRig> {
  const n = ++rigCount;
  const dir = mkdtempSync(path.join(tmpdir(), 'alpr-channel-contract-'));
  const secret = (name: string, content: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  };
  const port = mode === 'embedded' ? await freePort() : 0;
  const url = mode === 'embedded' ? `mqtt://127.0.0.1:${port}` : mosquitto!.url;
  const credentialsFile =
    mode === 'embedded' ? secret('terminal-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`) : secret('unit-credentials', `unit:${UNIT_PASSWORD}\n`);
  const clock = manualClock(T0);
  const channels: AlertChannel[] = [];
  const shown: Shown[] = [];
  let terminal: MqttTerminal | null = null;
  const switchOn = async (receipts: boolean): Promise<void> => {
    await terminal?.close();
    // the same client id each time: the terminal's session (and what the broker kept for it) survives a power cycle
    const t = new MqttTerminal(url, {
      unitId: UNIT,
      username: OFFICER,
      password: OFFICER_PASSWORD,
      clientId: `contract-terminal-${n}`,
      terminalId: 'T-1042',
      sendReceipts: receipts,
      reconnectPeriodMs: 50,
      clock: manualClock(T0),
    });
    t.onAlert((a) => shown.push({ delivery: a.payload }));
    await t.connect();
    terminal = t;
  };
  const far: ContractTerminal = {
    on: () => switchOn(true),
    off: async () => {
      await terminal?.close();
      terminal = null;
    },
    mute: async () => terminal!.setReceipts(false),
    shown: () => shown,
    answer: (alertId, accepted, reasonCode) => terminal!.answer(alertId, { accepted, ...(reasonCode !== undefined ? { reasonCode } : {}) }),
    hearsUnit: () => terminal !== null && terminal.ready && terminal.statuses.at(-1)?.status === 'online',
    health: () => terminal?.health.get(UNIT),
  };
  return {
    name: 'mqtt',
    clock,
    make: (opts = {}) => {
      const config = mqttChannelSchema.parse({
        enabled: true,
        mode,
        url,
        credentialsFile,
        clientId: `contract-unit-${n}`,
        listenHost: '127.0.0.1',
        listenPort: port || 1883,
        receiptTimeoutMs: opts.patient ? 600_000 : 500,
      });
      const channel = new MqttAlertChannel(config, UNIT, undefined, { clock, ackTimeoutMs: 4000, reconnectMinMs: 100, reconnectMaxMs: 400 });
      channels.push(channel);
      return channel;
    },
    terminal: far,
    linkUp: (channel) => until(() => channel.status().connected, 10_000, 'the broker connected', () => channel.status()),
    capabilities: ['onRetryNow', 'onUrgentHotlist', 'onReadsAccess', 'publishRead', 'publishHealth'],
    cleanUp: async () => {
      for (const c of channels) await c.stop();
      await terminal?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('alert channel contract: MQTT on a real mosquitto (mode "external")', () => {
  let mosquitto: Mosquitto | null = null;
  beforeAll(async () => {
    mosquitto = await Mosquitto.start({ users: { unit: UNIT_PASSWORD, [OFFICER]: OFFICER_PASSWORD } });
  });
  afterAll(async () => {
    await mosquitto?.dispose();
  });
  alertChannelContract(() => mqttRig('external', mosquitto));
});

describe('alert channel contract: MQTT on its embedded broker (mode "embedded")', () => {
  alertChannelContract(() => mqttRig('embedded', null));
});
