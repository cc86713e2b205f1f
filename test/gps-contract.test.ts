/**
 * The position source contract (test/gps-contract.ts) run against every implementation of PositionSource:
 * gps.source "none" (NoPosition), "fixed" (FixedPosition), and "serial" (SerialGps reading NMEA over a real
 * serial line: two pseudo-terminals joined by socat, the test writing the receiver's sentences into the far end).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SerialPort } from 'serialport';
import { describe } from 'vitest';
import { FixedPosition } from '../src/gps/fixed.js';
import { NoPosition } from '../src/gps/index.js';
import { SerialGps } from '../src/gps/serial.js';
import type { PositionSource } from '../src/gps/types.js';
import { manualClock } from '../src/util/clock.js';
import { gga, positionSourceContract, rmc, rmcNoFix, type GpsRig } from './gps-contract.js';
import { SocatPair } from './helpers.js';

/** 2026-03-14 09:26:53 UTC: the rigs' clocks stand here (no test depends on today's date). */
const T0 = Date.UTC(2026, 2, 14, 9, 26, 53);

describe('position source contract: gps.source "none"', () => {
  positionSourceContract(() => ({
    kind: 'none',
    source: 'none',
    t0: T0,
    make: () => new NoPosition(),
    cleanUp: async () => {},
  }));
});

describe('position source contract: gps.source "fixed"', () => {
  positionSourceContract(() => {
    const made: PositionSource[] = [];
    const fixed = { latitude: 52.370216, longitude: -4.895168, headingDeg: 135 };
    return {
      kind: 'fixed',
      source: 'fixed',
      t0: T0,
      fixed,
      make: () => {
        const source = new FixedPosition({ latitude: fixed.latitude, longitude: fixed.longitude, heading: fixed.headingDeg }, manualClock(T0));
        made.push(source);
        return source;
      },
      cleanUp: async () => {
        for (const s of made) await s.stop();
      },
    };
  });
});

describe('position source contract: gps.source "serial" (NMEA over a socat pair)', () => {
  positionSourceContract((): GpsRig => {
    const dir = mkdtempSync(path.join(tmpdir(), 'alpr-gps-contract-'));
    const clock = manualClock(T0);
    const maxAgeMs = 3000;
    const made: PositionSource[] = [];
    let cable: SocatPair | null = null;
    let feed: SerialPort | null = null;
    /** The receiver's end of the line, opened on first use. */
    const receiver = async (): Promise<SerialPort> => {
      cable ??= await SocatPair.open(`${dir}/gps`, `${dir}/feed`);
      if (feed === null) {
        const port = new SerialPort({ path: `${dir}/feed`, baudRate: 9600, autoOpen: false });
        port.on('error', () => {});
        await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
        feed = port;
      }
      return feed;
    };
    const write = async (data: string): Promise<void> => {
      const port = await receiver();
      await new Promise<void>((resolve, reject) => port.write(data, (err) => (err ? reject(err) : port.drain(() => resolve()))));
    };
    return {
      kind: 'receiver',
      source: 'gps',
      t0: T0,
      maxAgeMs,
      make: async () => {
        await receiver();
        const source = new SerialGps({ port: `${dir}/gps`, baudRate: 9600, maxAgeMs }, undefined, { clock, retryMinMs: 100, retryMaxMs: 400 });
        made.push(source);
        return source;
      },
      feed: (fix) =>
        write(rmc(fix.time, fix.latitude, fix.longitude, fix.speedKmh / 1.852, fix.headingDeg) + gga(fix.time, fix.latitude, fix.longitude, 9)),
      loseFix: (time, near) => write(near ? rmc(time, near.latitude, near.longitude, 0, 0, 'V') : rmcNoFix(time)),
      cleanUp: async () => {
        for (const s of made) await s.stop();
        const port = feed as SerialPort | null;
        if (port?.isOpen) await new Promise((r) => port.close(r));
        await cable?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});
