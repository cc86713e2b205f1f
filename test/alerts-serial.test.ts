/**
 * Alerts over a real serial line: two pseudo-terminals joined by socat. The unit's SerialAlertChannel opens one
 * end, the terminal simulator the other. Also the protocol codec on its own, and the doc's examples.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SerialChannelConfig } from '../src/alerts/config.js';
import { FrameSplitter, SerialAlertChannel, type AlertLogger } from '../src/alerts/serial.js';
import {
  MAX_FRAME_LENGTH,
  decodeFrame,
  encode,
  encodeAck,
  encodeAlert,
  encodeFrame,
  encodeHeartbeat,
  encodeResp,
  escapeField,
  frameChecksum,
  unescapeField,
  type Frame,
} from '../src/alerts/serial-protocol.js';
import { SerialTerminal, runSerialTerminal, type SerialTerminalOptions } from '../src/alerts/terminal-serial.js';
import { VERIFY_NOTICE, type AlertAck, type AlertDelivery } from '../src/alerts/types.js';
import { systemClock } from '../src/util/clock.js';
import { CapturingLogger, SocatPair, until } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function delivery(id: string, over: Partial<AlertDelivery> = {}): AlertDelivery {
  const raisedAt = Date.parse('2025-03-14T09:26:53.589Z');
  return {
    alert: {
      id,
      seq: 42,
      unitId: 'car-117',
      raisedAt,
      plate: '7ABC123',
      confidence: 93.5,
      cameraId: 'front',
      seenAt: raisedAt - 211,
      latitude: -23.55052,
      longitude: -46.633308,
      positionValid: true,
      hit: {
        list: 'ncic-stolen',
        category: 'STOLEN VEHICLE',
        priority: 1,
        matchKind: 'exact',
        entryPlate: '7ABC123',
        entryId: 5531,
        entryState: 'CA',
      },
      cropRef: 'images/r1-crop.jpg',
      frameRef: 'images/r1-frame.jpg',
      notice: VERIFY_NOTICE,
    },
    expired: false,
    ...over,
  };
}

/** A frame with the right checksum around any body (for frames the encoder would never make). */
function framed(body: string): string {
  return `$${body}*${frameChecksum(body)}\r\n`;
}

describe('serial protocol', () => {
  it('round-trips an alert, escaping what a field must not hold', () => {
    const d = delivery('id,with*odd$chars%', { lateMs: 12_345 });
    d.alert.hit.category = 'STOLEN, ARMED * $100% \r\n done';
    d.alert.hit.list = 'Zürich BOLO – «rot»';
    d.alert.plate = 'ÄB 123';
    d.alert.hit.matchKind = 'distance';
    d.alert.hit.distance = 1;
    const line = encodeAlert(d);
    expect(line.endsWith('\r\n')).toBe(true);
    const body = line.slice(0, -2);
    expect(body).toMatch(/^\$ALPR,ALERT,[\x20-\x7e]*\*[0-9A-F]{2}$/);
    expect(body.split('$')).toHaveLength(2);
    expect(body.split('*')).toHaveLength(2);
    expect(line).toContain('STOLEN%2C ARMED %2A %24100%25 %0D%0A done');
    expect(decodeFrame(line)).toEqual({ ok: true, frame: { type: 'ALERT', delivery: d } });
  });

  it('round-trips an alert with nothing optional', () => {
    const d = delivery('A-1', { expired: true });
    d.alert.latitude = null;
    d.alert.longitude = null;
    d.alert.positionValid = false;
    d.alert.cropRef = null;
    d.alert.frameRef = null;
    delete d.alert.hit.entryState;
    expect(decodeFrame(encodeAlert(d))).toEqual({ ok: true, frame: { type: 'ALERT', delivery: d } });
  });

  it('round-trips every other frame type', () => {
    const frames: Frame[] = [
      { type: 'HB', seq: 17, time: Date.parse('2025-03-14T09:26:53.589Z') },
      { type: 'ACK', id: 'A-1' },
      { type: 'NAK', id: 'A-1', reason: 'CHECKSUM' },
      { type: 'RESP', id: 'A-1', accepted: true, reasonCode: null, by: 'B4521' },
      { type: 'RESP', id: 'A,2', accepted: false, reasonCode: 'NOT-MATCH', by: null },
      { type: 'FAULT', code: 'camera', subject: 'rear', state: 'RAISED', since: Date.parse('2025-03-14T09:20:00.000Z'), message: 'camera rear is not connected (62 s): ENODEV' },
      { type: 'FAULT', code: 'clock', subject: '', state: 'CLEARED', since: Date.parse('2025-03-14T09:20:00.000Z'), message: 'cleared: the system clock jumped by -3600 s' },
    ];
    for (const frame of frames) expect(decodeFrame(encode(frame))).toEqual({ ok: true, frame });
    expect(encodeResp('A-1', true, null, 'B4521')).toBe('$ALPR,RESP,A-1,ACCEPT,,B4521*2A\r\n');
  });

  it('escapes and unescapes fields', () => {
    expect(escapeField('plain text 123')).toBe('plain text 123');
    expect(escapeField('a,b*c$d%e\r\n')).toBe('a%2Cb%2Ac%24d%25e%0D%0A');
    expect(escapeField('é')).toBe('%C3%A9');
    for (const s of ['', 'a,b', '%%', 'Ωmega, “quotes”', '\t\x00\x7f']) expect(unescapeField(escapeField(s))).toBe(s);
    expect(unescapeField('%c3%a9')).toBe('é');
    expect(() => unescapeField('%G1')).toThrow(/bad escape/);
    expect(() => unescapeField('%C3')).toThrow(/not UTF-8/);
  });

  it('refuses garbage, half frames, bad checksums, unknown types and wrong field counts with a clear reason', () => {
    const ack = encodeAck('A-1');
    const cases: Array<[string, string, RegExp]> = [
      ['hello world', 'FORMAT', /does not start with "\$"/],
      ['', 'FORMAT', /empty/],
      ['$ALPR,ACK,A-1', 'FORMAT', /no "\*" checksum \(half a frame\?\)/],
      ['K,A-1*5E', 'FORMAT', /does not start/],
      ['$ALPR,RESP,A-1,ACC' + ack, 'FORMAT', /second "\$"/],
      [ack.replace(/\*..\r\n$/, '*00\r\n'), 'CHECKSUM', /checksum 00 does not match the frame/],
      [ack.replace(/\*..\r\n$/, '*Z9\r\n'), 'FORMAT', /not two hex digits/],
      [framed('GPRMC,1,2'), 'FORMAT', /not an ALPR frame/],
      [framed('ALPR,PING,1'), 'TYPE', /unknown frame type "PING"/],
      [framed('ALPR,ACK,A-1,extra'), 'FORMAT', /ACK has 2 fields, expected 1/],
      [framed('ALPR,ALERT,A-1,2,3'), 'FORMAT', /ALERT has 3 fields, expected 24/],
      [framed('ALPR,RESP,A-1,MAYBE,,'), 'FORMAT', /neither ACCEPT nor REJECT/],
      [framed('ALPR,HB,1,yesterday'), 'FORMAT', /not an ISO 8601 UTC time/],
      [framed('ALPR,HB,-1,2025-03-14T09:26:53.589Z'), 'FORMAT', /not a whole number/],
      [framed('ALPR,ACK,%ZZ'), 'FORMAT', /bad escape/],
      [framed('ALPR,ACK,'), 'FORMAT', /id is empty/],
      [framed('ALPR,ACK,' + 'x'.repeat(65)), 'FORMAT', /longer than 64/],
      ['$ALPR,ACK,A\x00-1*00', 'FORMAT', /byte 0x00 at column 12 is not printable ASCII/],
      [framed('ALPR,ACK,' + 'x'.repeat(MAX_FRAME_LENGTH)), 'LENGTH', /longer than 1024/],
    ];
    for (const [line, reason, error] of cases) {
      const result = decodeFrame(line);
      expect(result.ok, JSON.stringify(line)).toBe(false);
      if (result.ok) continue;
      expect(result.reason, line).toBe(reason);
      expect(result.error, line).toMatch(error);
    }
    // What can still be read of a damaged frame, to NAK the right id.
    expect(decodeFrame(encodeResp('R-9', true).replace(/\*..\r\n$/, '*00'))).toMatchObject({
      ok: false,
      reason: 'CHECKSUM',
      type: 'RESP',
      id: 'R-9',
    });
    // Lower-case checksums are accepted; a lone LF or no terminator too.
    const body = 'ALPR,ACK,A-10';
    expect(frameChecksum(body)).toMatch(/[A-F]/);
    expect(decodeFrame(`$${body}*${frameChecksum(body).toLowerCase()}\n`)).toMatchObject({ ok: true });
    expect(decodeFrame(encodeAck('A-1').replace('\r\n', ''))).toMatchObject({ ok: true });
  });

  it('keeps every frame within 1024 bytes', () => {
    expect(() => encodeFrame('ACK', ['x'.repeat(1100)])).toThrow(/longer than 1024/);
    const d = delivery('A-1');
    d.alert.cropRef = '/var/lib/alpr/images/' + 'deep/'.repeat(150) + 'crop.jpg';
    d.alert.frameRef = d.alert.cropRef;
    d.alert.hit.category = 'C'.repeat(900);
    const line = encodeAlert(d);
    expect(line.length).toBeLessThanOrEqual(MAX_FRAME_LENGTH);
    const decoded = decodeFrame(line);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok || decoded.frame.type !== 'ALERT') return;
    expect(decoded.frame.delivery.alert.cropRef).toBeNull();
    expect(decoded.frame.delivery.alert.hit.category).toMatch(/^C+~$/);
    expect(decoded.frame.delivery.alert.notice).toBe(VERIFY_NOTICE);
    // What a terminal would refuse is not sent at all.
    expect(() => encodeAlert(delivery('x'.repeat(65)))).toThrow(/alert x+ would be refused: ALERT: id is longer than 64/);
    const noPlate = delivery('A-1');
    noPlate.alert.plate = '';
    expect(() => encodeAlert(noPlate)).toThrow(/alert A-1 would be refused: ALERT: plate is empty/);
  });

  it('every example line in docs/serial-protocol.md is a good frame', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/serial-protocol.md'), 'utf8');
    const examples = doc.split('\n').filter((l) => l.startsWith('$ALPR,') && !l.includes('<'));
    expect(examples.length).toBeGreaterThanOrEqual(7);
    for (const line of examples) {
      const result = decodeFrame(line);
      expect(result, line).toMatchObject({ ok: true });
      if (result.ok) expect(encode(result.frame).trimEnd(), line).toBe(line);
    }
  });

  it('cuts a byte stream into frames, resyncing on "$" and bounding line length', () => {
    const lines: Array<string | null> = [];
    const splitter = new FrameSplitter(MAX_FRAME_LENGTH, (l) => lines.push(l));
    const ack = encodeAck('A-1');
    splitter.push(Buffer.from('noise\r\n$ALPR,RESP,A-1,ACC' + ack.slice(0, 5)));
    splitter.push(Buffer.from(ack.slice(5) + 'x'.repeat(5000)));
    splitter.push(Buffer.from('y'.repeat(5000) + '\n\r\n' + ack));
    expect(lines).toEqual(['noise', '$ALPR,RESP,A-1,ACC', ack.trimEnd(), null, ack.trimEnd()]);
  });
});

let dir: string;
let cable: SocatPair | null;
let channels: SerialAlertChannel[];
let terminals: SerialTerminal[];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-serial-'));
  cable = null;
  channels = [];
  terminals = [];
});

afterEach(async () => {
  for (const channel of channels) await channel.stop();
  for (const terminal of terminals) await terminal.stop();
  await unplug();
  rmSync(dir, { recursive: true, force: true });
});

/** The cable: DIR/unit is the unit's port, DIR/term the terminal's. */
async function plugIn(): Promise<void> {
  cable = await SocatPair.open(`${dir}/unit`, `${dir}/term`);
}

/** Like a USB-serial adapter pulled out: both ends and the device nodes vanish. */
async function unplug(): Promise<void> {
  await cable?.close();
  cable = null;
}

function newChannel(over: Partial<SerialChannelConfig> = {}, logger?: AlertLogger): SerialAlertChannel {
  const config: SerialChannelConfig = {
    enabled: true,
    port: `${dir}/unit`,
    baudRate: 115_200,
    dataBits: 8,
    parity: 'none',
    stopBits: 1,
    ackTimeoutMs: 150,
    maxRetries: 4,
    heartbeatMs: 200,
    ...over,
  };
  const channel = new SerialAlertChannel(config, logger, { retryMinMs: 50, retryMaxMs: 200, clock: systemClock });
  channels.push(channel);
  return channel;
}

function newTerminal(over: Partial<SerialTerminalOptions> = {}): SerialTerminal {
  const terminal = new SerialTerminal({
    path: `${dir}/term`,
    heartbeatMs: 100,
    respTimeoutMs: 200,
    retryMinMs: 50,
    retryMaxMs: 200,
    clock: systemClock,
    ...over,
  });
  terminals.push(terminal);
  return terminal;
}

/** Unit and terminal on a fresh cable, hearing each other. */
async function linked(channelConfig: Partial<SerialChannelConfig> = {}, terminalOptions: Partial<SerialTerminalOptions> = {}) {
  await plugIn();
  const channel = newChannel(channelConfig);
  const terminal = newTerminal(terminalOptions);
  await channel.start();
  await terminal.start();
  await until(() => channel.status().connected && terminal.status().hearing, 3000, 'both ends hearing', () => channel.status());
  return { channel, terminal };
}

describe('alerts over a serial line', () => {
  it('delivers an alert and resolves on the terminal ACK', async () => {
    const { channel, terminal } = await linked();
    const shown: AlertDelivery[] = [];
    terminal.on('alert', (a) => shown.push(a.delivery));
    const d = delivery('A-1', { lateMs: 4200 });
    await channel.deliver(d);
    expect(shown).toEqual([d]);
    expect(channel.status()).toMatchObject({ name: 'serial', connected: true, inFlight: 0, delivered: 1, lastError: null });
    expect(channel.stats()).toMatchObject({ alertFrames: 1, retransmits: 0, acks: 1 });
    expect(channel.status().detail).toContain(`${dir}/unit 115200 8N1 open`);

    // The outbox calls in order; calls made meanwhile wait their turn.
    await Promise.all([channel.deliver(delivery('A-2')), channel.deliver(delivery('A-3'))]);
    expect(terminal.list().map((a) => a.delivery.alert.id)).toEqual(['A-1', 'A-2', 'A-3']);
    expect(channel.status()).toMatchObject({ delivered: 3, inFlight: 0 });
  });

  it("passes the officer's answer to the onAck handler and ACKs it to the terminal", async () => {
    const { channel, terminal } = await linked();
    const acks: AlertAck[] = [];
    channel.onAck((ack) => acks.push(ack));
    await channel.deliver(delivery('A-1'));
    const before = Date.now();
    await terminal.respond('A-1', false, 'NOT-MATCH', 'officer 7');
    expect(acks).toEqual([
      { alertId: 'A-1', accepted: false, reasonCode: 'NOT-MATCH', by: 'officer 7', receivedAt: expect.any(Number), channel: 'serial' },
    ]);
    expect(acks[0]!.receivedAt).toBeGreaterThanOrEqual(before);
    expect(terminal.find('1')?.answer).toEqual({ accepted: false, reasonCode: 'NOT-MATCH', by: 'officer 7', recorded: true });

    // The terminal sends the same answer again (it lost our ACK): ACKed again, recorded once.
    await terminal.respond('A-1', false, 'NOT-MATCH', 'officer 7');
    await terminal.respond('A-2', true);
    expect(acks.map((a) => [a.alertId, a.accepted])).toEqual([
      ['A-1', false],
      ['A-2', true],
    ]);
    expect(acks[1]).not.toHaveProperty('reasonCode');
    expect(channel.stats()).toMatchObject({ resps: 3, repeatedResps: 1 });
  });

  it('sends again when ACKs are lost, damaged or NAKed, and shows the alert once', async () => {
    const { channel, terminal } = await linked({}, { dropAcks: 1, nakAlerts: 1, badChecksumAcks: 1 });
    const shown: string[] = [];
    const repeats: number[] = [];
    terminal.on('alert', (a) => shown.push(a.delivery.alert.id));
    terminal.on('repeat', (a) => repeats.push(a.copies));
    await channel.deliver(delivery('A-1'));
    expect(shown).toEqual(['A-1']);
    // Dropped, NAKed (not shown), bad checksum, good: four sends.
    expect(repeats).toEqual([2, 3]);
    expect(channel.stats()).toMatchObject({ alertFrames: 4, retransmits: 3, naks: 1, acks: 1 });
    expect(channel.stats().refused.CHECKSUM).toBe(1);
    expect(channel.status()).toMatchObject({ delivered: 1, inFlight: 0, lastError: null });
  });

  it('hands the alert back when the retries are spent', async () => {
    const { channel, terminal } = await linked({ ackTimeoutMs: 100, maxRetries: 2 }, { autoAck: false });
    const started = Date.now();
    await expect(channel.deliver(delivery('A-1'))).rejects.toThrow('no ACK from the terminal for alert A-1 after 3 sends');
    // 100 + 200 + 400 ms of waiting.
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(terminal.find('A-1')?.copies).toBe(3);
    expect(channel.status()).toMatchObject({ inFlight: 0, delivered: 0, connected: true });
    expect(channel.status().lastError).toMatch(/no ACK/);
  });

  it('counts and skips garbage, half frames and bad checksums, and still takes the good frames', async () => {
    await plugIn();
    const logger = new CapturingLogger();
    const channel = newChannel({}, logger);
    const terminal = newTerminal();
    await channel.start();
    await terminal.start();
    const acks: string[] = [];
    channel.onAck((ack) => acks.push(ack.alertId));
    const naks: string[] = [];
    terminal.on('nak', (nak) => naks.push(`${nak.id} ${nak.reason}`));

    terminal.sendRaw('noise from a terminal booting\r\n');
    terminal.sendRaw(Buffer.from([0x00, 0xff, 0x13, 0x37, 0xb5, 0x62, 0x0a]));
    // Cut off mid-frame; the next frame follows on the same line.
    terminal.sendRaw('$ALPR,RESP,H-0,ACC' + encodeResp('C-3', true, null, 'u1'));
    terminal.sendRaw(encodeResp('B-2', false, 'CLEARED', 'u1').replace(/\*..\r\n$/, '*00\r\n'));
    terminal.sendRaw(framed('ALPR,PING,1'));
    terminal.sendRaw(framed('ALPR,ACK,A-1,extra'));
    terminal.sendRaw('Z'.repeat(3000) + '\r\n');
    terminal.sendRaw(encodeResp('D-4', true, null, 'u1'));

    await until(() => acks.length === 2 && naks.length === 2, 3000, 'good frames and a NAK', () => ({ acks, naks, stats: channel.stats() }));
    expect(acks).toEqual(['C-3', 'D-4']);
    // Damaged answers whose id can still be read are asked for again.
    expect(naks).toEqual(['H-0 FORMAT', 'B-2 CHECKSUM']);
    expect(channel.stats().refused).toEqual({ CHECKSUM: 1, FORMAT: 4, TYPE: 1, LENGTH: 1 });
    // Logged once, not once per line.
    expect(logger.messages('frames from the terminal refused')).toHaveLength(1);
    // And alerts still go through.
    await channel.deliver(delivery('A-1'));
    expect(channel.status()).toMatchObject({ connected: true, delivered: 1 });
  });

  it('ignores ACKs for alerts not on the wire: unknown, old, duplicated', async () => {
    const { channel, terminal } = await linked({ ackTimeoutMs: 2000 }, { autoAck: false });
    terminal.on('alert', (a) => {
      const id = a.delivery.alert.id;
      terminal.ack('ZZZ');
      terminal.ack('A-0');
      terminal.ack(id);
      terminal.ack(id);
    });
    await channel.deliver(delivery('A-1'));
    await until(() => channel.stats().strayAcks === 3, 2000, 'stray ACKs counted', () => channel.stats());
    // A late duplicate of A-1's ACK must not complete A-2.
    terminal.removeAllListeners('alert');
    terminal.on('alert', () => terminal.ack('A-1'));
    let done = false;
    const second = channel.deliver(delivery('A-2')).then(() => (done = true));
    await until(() => channel.stats().strayAcks === 4, 2000, 'the late ACK counted');
    expect(done).toBe(false);
    terminal.ack('A-2');
    await second;
    expect(channel.stats()).toMatchObject({ acks: 2, strayAcks: 4, retransmits: 0 });
    expect(channel.status()).toMatchObject({ delivered: 2, inFlight: 0 });
  });

  it('survives the cable pulled mid-delivery and delivers once it is back', async () => {
    const { channel, terminal } = await linked({ ackTimeoutMs: 2000 }, { dropAcks: 1 });
    terminal.once('alert', () => void unplug());
    await expect(channel.deliver(delivery('A-1'))).rejects.toThrow(/lost .*unit.* while waiting for the ACK of alert A-1/);
    await until(() => !channel.status().connected, 2000, 'disconnected');
    expect(channel.status()).toMatchObject({ connected: false, inFlight: 0 });
    expect(channel.status().lastError).toMatch(/(lost|cannot open) .*unit/);
    expect(channel.status().detail).toContain('closed');
    // While unplugged: refused at once, for the outbox to try later.
    await expect(channel.deliver(delivery('A-1'))).rejects.toThrow(/terminal port not open/);
    await until(() => /cannot open/.test(channel.status().lastError ?? ''), 2000, 'reopen attempts', () => channel.status());

    await plugIn();
    await until(() => channel.status().connected && terminal.status().hearing, 3000, 'reconnected', () => channel.status());
    await channel.deliver(delivery('A-1'));
    expect(channel.status()).toMatchObject({ connected: true, delivered: 1, lastError: null });
    // The terminal shows A-1 once although it got it twice.
    expect(terminal.list()).toHaveLength(1);
    expect(terminal.find('A-1')?.copies).toBe(2);
  });

  it("tells the terminal of the unit's faults as they come and go, and all open ones again after a replug", async () => {
    const { channel, terminal } = await linked();
    const seen: Array<{ code: string; subject: string; state: string }> = [];
    terminal.on('fault', (f) => seen.push({ code: f.code, subject: f.subject, state: f.state }));
    const since = Date.now();
    channel.reportFaults([{ code: 'camera', subject: 'rear', message: 'camera rear is not connected (61 s)', since }]);
    channel.reportFaults([
      { code: 'camera', subject: 'rear', message: 'camera rear is not connected (63 s)', since },
      { code: 'storage', subject: 'disk', message: 'the data disk is nearly full: 120 MiB free', since },
    ]);
    channel.reportFaults([{ code: 'storage', subject: 'disk', message: 'the data disk is nearly full: 120 MiB free', since }]);
    await until(() => seen.length === 3, 3000, 'three fault frames', () => seen);
    expect(seen).toEqual([
      { code: 'camera', subject: 'rear', state: 'RAISED' },
      { code: 'storage', subject: 'disk', state: 'RAISED' },
      { code: 'camera', subject: 'rear', state: 'CLEARED' },
    ]);
    // a terminal plugged in later still hears of the fault that is open
    await unplug();
    await until(() => !channel.status().connected, 3000, 'disconnected');
    seen.length = 0;
    await plugIn();
    await until(() => seen.length >= 1, 5000, 'the open fault again', () => channel.status());
    expect(seen[0]).toEqual({ code: 'storage', subject: 'disk', state: 'RAISED' });
    expect(terminal.status().refused).toBe(0);

    // a terminal switched on well after the unit's port opened (it missed what was sent at the open)
    await terminal.stop();
    await until(() => !channel.status().connected, 3000, 'terminal gone', () => channel.status());
    await new Promise((r) => setTimeout(r, 800));
    const late = newTerminal();
    const lateSeen: string[] = [];
    late.on('fault', (f) => lateSeen.push(`${f.code}/${f.subject} ${f.state}`));
    await late.start();
    await until(() => lateSeen.length >= 1, 5000, 'the open fault for the late terminal', () => channel.status());
    expect(lateSeen[0]).toBe('storage/disk RAISED');
    expect(lateSeen).not.toContain('camera/rear RAISED');
  });

  it('marks the terminal connected while its heartbeats arrive, and gone when they stop', async () => {
    await plugIn();
    const channel = newChannel({ heartbeatMs: 200 });
    await channel.start();
    await new Promise((r) => setTimeout(r, 700));
    // Port open, nobody there.
    expect(channel.status().connected).toBe(false);
    expect(channel.status().lastError).toMatch(/no frames from the terminal on .*unit for \d+ s/);

    const terminal = newTerminal({ heartbeatMs: 100 });
    await terminal.start();
    await until(() => channel.status().connected, 2000, 'connected', () => channel.status());
    expect(channel.status().lastError).toBeNull();
    // The unit's heartbeats reach the terminal too.
    await until(() => terminal.status().heartbeatsIn >= 2, 2000, 'unit heartbeats', () => terminal.status());
    expect(channel.stats().heartbeatsIn).toBeGreaterThan(0);

    // The terminal is switched off; the cable stays.
    await terminal.stop();
    await until(() => !channel.status().connected, 2000, 'disconnected', () => channel.status());
    expect(channel.status().lastError).toMatch(/no frames from the terminal/);
  });

  it('stop() hands back the alert on the wire and closes the port', async () => {
    const { channel } = await linked({}, { autoAck: false });
    const outcome = (p: Promise<void>) => p.then(() => 'delivered', (err: Error) => err.message);
    const pending = outcome(channel.deliver(delivery('A-1')));
    const queued = outcome(channel.deliver(delivery('A-2')));
    expect(channel.status().inFlight).toBe(2);
    await channel.stop();
    expect(await pending).toBe('serial alert channel stopped');
    expect(await queued).toBe('serial alert channel stopped');
    await expect(channel.deliver(delivery('A-3'))).rejects.toThrow(/not running/);
    expect(channel.status()).toMatchObject({ connected: false, inFlight: 0 });
  });

  it('the terminal simulator prints alerts and sends what the person types', async () => {
    await plugIn();
    const channel = newChannel();
    const acks: AlertAck[] = [];
    channel.onAck((ack) => acks.push(ack));
    await channel.start();
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const run = runSerialTerminal(`${dir}/term`, { heartbeatMs: 100, officer: 'B4521', clock: systemClock }, { input, output });
    await until(() => printed.includes('waiting for alerts') && channel.status().connected, 3000, 'simulator up', () => printed);

    const d = delivery('01JPB7M3YH4Q8Z0N6W2K5T9R1C', { lateMs: 12_300 });
    d.alert.hit.matchKind = 'distance';
    d.alert.hit.distance = 1;
    await channel.deliver(d);
    await until(() => printed.includes(VERIFY_NOTICE), 2000, 'alert printed', () => printed);
    expect(printed).toContain('ALERT #1  7ABC123  LATE by 12.3 s');
    expect(printed).toContain('ncic-stolen / STOLEN VEHICLE, priority 1');
    expect(printed).toContain('distance (1 character differs) with listed 7ABC123 (CA)');
    expect(printed).toContain('-23.55052, -46.633308');
    expect(printed).toContain('2025-03-14 09:26:53Z');
    await channel.deliver(delivery('A-2', { expired: true }));
    await until(() => printed.includes('ALERT #2'), 2000, 'second alert', () => printed);
    expect(printed).toMatch(/ALERT #2 {2}7ABC123 {2}EXPIRED/);

    input.write('r 1 NOT-MATCH\n');
    input.write('a A-2 K9-12\n');
    await until(() => acks.length === 2, 3000, 'answers recorded', () => printed);
    expect(acks.map(({ alertId, accepted, reasonCode, by }) => ({ alertId, accepted, reasonCode, by }))).toEqual([
      { alertId: '01JPB7M3YH4Q8Z0N6W2K5T9R1C', accepted: false, reasonCode: 'NOT-MATCH', by: 'B4521' },
      { alertId: 'A-2', accepted: true, reasonCode: undefined, by: 'K9-12' },
    ]);
    await until(() => printed.includes('answer to A-2 recorded by the unit'), 2000, 'confirmation', () => printed);
    input.write('l\n');
    await until(() => printed.includes('#2 7ABC123 ncic-stolen/STOLEN VEHICLE p1 EXPIRED'), 2000, 'list', () => printed);
    input.end();
    await run;
  });
});
