/**
 * The contract every position source (src/gps/types.ts PositionSource) keeps, run against each implementation in
 * test/gps-contract.test.ts, as test/camera-contract.ts does for cameras. What a user of the unit relies on: a read
 * taken where the source was told the car was gets that position; where there is no fix the read says so rather
 * than carrying a stale or made-up one; status() agrees with positionAt(); stop() stops for good (twice is
 * harmless, nothing is taken in afterwards) and leaves what it held (a serial port) for the next source.
 * Times are fixed instants (from the rig's injected clock), never today's date.
 */
import { expect, it } from 'vitest';
import type { Position, PositionSource } from '../src/gps/types.js';
import { until } from './helpers.js';

/** A place and how the car moves there, as a receiver reports it. */
export interface FedFix {
  time: number;
  latitude: number;
  longitude: number;
  speedKmh: number;
  headingDeg: number;
}

/**
 * One implementation under the contract. `kind` says what it can be told:
 * - 'receiver': positions arrive from outside (feed) and the far end may say it has no fix (loseFix);
 * - 'fixed': one configured position, valid at any time;
 * - 'none': never a position.
 */
export interface GpsRig {
  kind: 'receiver' | 'fixed' | 'none';
  /** What status().source and positionAt().source say. */
  source: Position['source'];
  /** The instant the tests work around (the rig's clock reads it). */
  t0: number;
  /** A new source, not started; called again after a stop: the new one must work (what the old held is free). */
  make(): PositionSource | Promise<PositionSource>;
  /** 'receiver': the far end reports this fix; resolves once it has been sent. */
  feed?(fix: FedFix): Promise<void>;
  /** 'receiver': the far end reports that it has no fix at `time`, with no position or (`near`) still saying roughly where. */
  loseFix?(time: number, near?: { latitude: number; longitude: number }): Promise<void>;
  /** 'fixed': the configured position. */
  fixed?: { latitude: number; longitude: number; headingDeg: number | null };
  /** The most a fix may be from a read's time and still be valid (gps.maxAgeMs); 'receiver' only. */
  maxAgeMs?: number;
  /** Frees what the rig set up for one test (cables, feeds) and stops every source it made. */
  cleanUp(): Promise<void>;
}

/** São Paulo: southern and western hemisphere, so that a lost sign shows. */
const HERE = { latitude: -23.55052, longitude: -46.633308 };

function fedAt(rig: GpsRig, dt: number, north = 0): FedFix {
  return { time: rig.t0 + dt, latitude: HERE.latitude + north, longitude: HERE.longitude, speedKmh: 42.5, headingDeg: 271.3 };
}

function expectAt(p: Position, fix: FedFix, source: Position['source']): void {
  expect(p).toEqual({
    latitude: expect.closeTo(fix.latitude, 5),
    longitude: expect.closeTo(fix.longitude, 5),
    valid: true,
    speedKmh: expect.closeTo(fix.speedKmh, 1),
    headingDeg: expect.closeTo(fix.headingDeg, 1),
    fixTime: fix.time,
    source,
  });
}

function expectNoFix(p: Position, source: Position['source']): void {
  expect(p.valid, JSON.stringify(p)).toBe(false);
  expect(p.source).toBe(source);
}

/** Waits until `source` has taken in the fix of `fix.time`. */
async function heard(source: PositionSource, fix: FedFix): Promise<void> {
  await until(() => source.status().lastFix?.time === fix.time, 10_000, `the fix of t0+${fix.time}`, () => source.status());
}

/** Defines the contract's tests for one implementation (call inside a describe). */
export function positionSourceContract(rig: () => GpsRig): void {
  it('gives a read the position the source was given, and status() agrees', async () => {
    const r = rig();
    try {
      const source = await r.make();
      await source.start();
      if (r.kind === 'receiver') {
        const first = fedAt(r, 0);
        const second = fedAt(r, 1000, 0.001);
        await r.feed!(first);
        await r.feed!(second);
        await heard(source, second);
        expectAt(source.positionAt(first.time), first, r.source);
        // a read between the two fixes gets the nearer one
        expectAt(source.positionAt(second.time - 200), second, r.source);
        const status = source.status();
        expect(status).toMatchObject({ source: r.source, connected: true, lastError: null });
        expect(status.lastFix).toMatchObject({ time: second.time, valid: true, latitude: expect.closeTo(second.latitude, 5) });
      } else if (r.kind === 'fixed') {
        const want = r.fixed!;
        for (const t of [r.t0, r.t0 + 400 * 86_400_000, 0]) {
          expect(source.positionAt(t)).toEqual({ ...want, valid: true, speedKmh: 0, fixTime: null, source: r.source });
        }
        const status = source.status();
        expect(status).toMatchObject({ source: r.source, connected: true, lastError: null });
        // the fix is the configured place, as of now by the unit's (injected) clock
        expect(status.lastFix).toMatchObject({ time: r.t0, valid: true, latitude: want.latitude, longitude: want.longitude });
      } else {
        expectNoFix(source.positionAt(r.t0), r.source);
        expect(source.status()).toMatchObject({ source: r.source, connected: false, lastFix: null });
      }
      // what positionAt hands out is the caller's: changing it changes nothing in the source
      const p = source.positionAt(r.t0);
      const before = JSON.stringify(p);
      (p as { latitude: number | null }).latitude = 0;
      expect(JSON.stringify(source.positionAt(r.t0))).toBe(before);
    } finally {
      await r.cleanUp();
    }
  });

  it('says there is no fix where there is none: before the first, when the receiver loses it, far from any', async () => {
    const r = rig();
    try {
      const source = await r.make();
      await source.start();
      if (r.kind === 'fixed') {
        // a fixed position has a fix at every time, also long after start
        expect(source.positionAt(r.t0 + 400 * 86_400_000).valid).toBe(true);
        return;
      }
      expectNoFix(source.positionAt(r.t0), r.source);
      expect(source.positionAt(r.t0)).toMatchObject({ latitude: null, longitude: null, fixTime: null });
      expect(source.status().lastFix).toBeNull();
      if (r.kind !== 'receiver') return;
      const fix = fedAt(r, 0);
      await r.feed!(fix);
      await heard(source, fix);
      // a second later the receiver has lost the sky (a tunnel): no position at all
      let sentences = source.status().sentences;
      await r.loseFix!(fix.time + 1000);
      await until(() => source.status().sentences > sentences, 10_000, 'the receiver saying it has no fix', () => source.status());
      expectAt(source.positionAt(fix.time), fix, r.source);
      // a read taken then must not carry the fix of a second before as if it were sure
      expectNoFix(source.positionAt(fix.time + 1000), r.source);
      // another second later it says roughly where, but not that it is sure
      sentences = source.status().sentences;
      await r.loseFix!(fix.time + 2000, fix);
      await until(() => source.status().sentences > sentences, 10_000, 'the receiver saying where, without a fix', () => source.status());
      expectNoFix(source.positionAt(fix.time + 2000), r.source);
      expect(source.status().lastFix).toMatchObject({ time: fix.time + 2000, valid: false });
      // a read long after the last fix, or long before the first: not valid
      expectNoFix(source.positionAt(fix.time + 2000 + r.maxAgeMs! + 60_000), r.source);
      expectNoFix(source.positionAt(fix.time - r.maxAgeMs! - 60_000), r.source);
    } finally {
      await r.cleanUp();
    }
  });

  it('stops for good: twice is harmless, nothing is taken in afterwards, and a new source can take its place', async () => {
    const r = rig();
    try {
      const source = await r.make();
      await source.start();
      const first = fedAt(r, 0);
      if (r.kind === 'receiver') {
        await r.feed!(first);
        await heard(source, first);
      }
      const status = source.status();
      await source.stop();
      await source.stop();
      // after stop, what was known still answers for reads already taken
      if (r.kind === 'receiver') expectAt(source.positionAt(first.time), first, r.source);
      if (r.kind === 'receiver') {
        const late = fedAt(r, 2000, 0.002);
        await r.feed!(late);
        // give a source that did not stop the time to take it in (a wait for nothing to happen)
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(source.status().lastFix?.time).toBe(first.time);
        expect(source.status().sentences).toBe(status.sentences);
        expect(source.status().connected).toBe(false);
      }
      // the next source (a restart of the unit) gets what the old one held
      const next = await r.make();
      await next.start();
      if (r.kind === 'receiver') {
        const later = fedAt(r, 5000, 0.005);
        await r.feed!(later);
        await heard(next, later);
        expectAt(next.positionAt(later.time), later, r.source);
        expect(next.status().connected).toBe(true);
      } else {
        expect(next.positionAt(r.t0)).toEqual(source.positionAt(r.t0));
      }
      await next.stop();
    } finally {
      await r.cleanUp();
    }
  });
}

// NMEA 0183 as a receiver writes it (checksummed sentences, ddmm.mmmmm positions, knots).

export function nmea(body: string): string {
  let sum = 0;
  for (const ch of body) sum ^= ch.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}

function hhmmss(t: number): string {
  return new Date(t).toISOString().slice(11, 19).replace(/:/g, '') + '.00';
}
function ddmmyy(t: number): string {
  const iso = new Date(t).toISOString();
  return iso.slice(8, 10) + iso.slice(5, 7) + iso.slice(2, 4);
}
function latLon(latitude: number, longitude: number): string {
  const part = (deg: number, width: number, pos: string, neg: string) => {
    const a = Math.abs(deg);
    const d = Math.floor(a);
    const minutes = ((a - d) * 60).toFixed(5).padStart(8, '0');
    return `${String(d).padStart(width, '0')}${minutes},${deg < 0 ? neg : pos}`;
  };
  return `${part(latitude, 2, 'N', 'S')},${part(longitude, 3, 'E', 'W')}`;
}
/** RMC: time, date, status (A valid, V no fix), position, speed (knots), course. */
export function rmc(t: number, latitude: number, longitude: number, knots: number, course: number, status = 'A'): string {
  const mode = status === 'A' ? 'A' : 'N';
  const motion = `${knots.toFixed(2)},${course.toFixed(1)}`;
  return nmea(`GNRMC,${hhmmss(t)},${status},${latLon(latitude, longitude)},${motion},${ddmmyy(t)},,,${mode}`);
}
/** RMC of a receiver without any position (status V, empty fields). */
export function rmcNoFix(t: number): string {
  return nmea(`GNRMC,${hhmmss(t)},V,,,,,,,${ddmmyy(t)},,,N`);
}
/** GGA: time, position, fix quality 1, satellites, HDOP, altitude. */
export function gga(t: number, latitude: number, longitude: number, satellites: number): string {
  const sats = String(satellites).padStart(2, '0');
  return nmea(`GNGGA,${hhmmss(t)},${latLon(latitude, longitude)},1,${sats},0.9,760.0,M,-5.2,M,,`);
}
