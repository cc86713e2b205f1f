import { systemClock } from '../src/util/clock.js';
import { describe, expect, it } from 'vitest';
import { NmeaAssembler, parseSentence, type NmeaEvent } from '../src/gps/nmea.js';
import type { Fix } from '../src/gps/types.js';

/** `$body*HH` with the checksum computed here, independently of the parser. */
function nmea(body: string): string {
  let sum = 0;
  for (const ch of body) sum ^= ch.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Decimal degrees -> NMEA ddmm.mmmm (or dddmm.mmmm) and hemisphere. */
function lat(deg: number): string {
  const a = Math.abs(deg);
  const d = Math.floor(a);
  return `${String(d).padStart(2, '0')}${((a - d) * 60).toFixed(4).padStart(7, '0')},${deg < 0 ? 'S' : 'N'}`;
}
function lon(deg: number): string {
  const a = Math.abs(deg);
  const d = Math.floor(a);
  return `${String(d).padStart(3, '0')}${((a - d) * 60).toFixed(4).padStart(7, '0')},${deg < 0 ? 'W' : 'E'}`;
}

function fixOf(event: NmeaEvent): Fix {
  if (event.kind !== 'fix') throw new Error(`expected a fix, got ${JSON.stringify(event)}`);
  return event.fix;
}

// The textbook sentences (NMEA reference pages quote them), with their real checksums.
const RMC_1994 = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';
const GGA_1994 = '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47';

describe('NMEA sentences', () => {
  it('reads the textbook RMC: position, speed in km/h, heading, date and time', () => {
    const fix = fixOf(new NmeaAssembler(systemClock).push(RMC_1994));
    expect(fix.time).toBe(Date.UTC(1994, 2, 23, 12, 35, 19));
    expect(fix.latitude).toBeCloseTo(48 + 7.038 / 60, 6);
    expect(fix.longitude).toBeCloseTo(11 + 31 / 60, 6);
    expect(fix.speedKmh).toBeCloseTo(22.4 * 1.852, 6);
    expect(fix.headingDeg).toBeCloseTo(84.4, 6);
    expect(fix.valid).toBe(true);
  });

  it('reads the textbook GGA: quality, satellites, HDOP, altitude', () => {
    const parsed = parseSentence(GGA_1994);
    expect(parsed).toMatchObject({
      ok: true,
      sentence: { type: 'gga', talker: 'GP', quality: 1, satellites: 8, hdop: 0.9, altitudeM: 545.4, valid: true },
    });
  });

  it('joins the RMC and GGA of one second into one fix, whichever comes first', () => {
    for (const order of [
      [GGA_1994, RMC_1994],
      [RMC_1994, GGA_1994],
    ]) {
      const gps = new NmeaAssembler(systemClock);
      const first = gps.push(order[0]!);
      const second = gps.push(order[1]!);
      expect(first).toMatchObject({ kind: 'fix', refines: false });
      expect(second).toMatchObject({ kind: 'fix', refines: true });
      expect(fixOf(second)).toEqual({
        time: Date.UTC(1994, 2, 23, 12, 35, 19),
        latitude: expect.closeTo(48.1173, 6),
        longitude: expect.closeTo(11.516667, 6),
        valid: true,
        quality: 1,
        satellites: 8,
        hdop: 0.9,
        altitudeM: 545.4,
        speedKmh: expect.closeTo(41.4848, 6),
        headingDeg: 84.4,
      });
    }
  });

  it('places fixes in every hemisphere with the right signs', () => {
    const places = [
      { name: 'Sydney', latitude: -33.8688, longitude: 151.2093 },
      { name: 'São Paulo', latitude: -23.5505, longitude: -46.6333 },
      { name: 'New York', latitude: 40.7128, longitude: -74.006 },
      { name: 'Tokyo', latitude: 35.6762, longitude: 139.6503 },
    ];
    for (const p of places) {
      const gps = new NmeaAssembler(systemClock);
      const fix = fixOf(gps.push(nmea(`GNRMC,081500.00,A,${lat(p.latitude)},${lon(p.longitude)},0.0,,150625,,,A`)));
      expect(fix.latitude, p.name).toBeCloseTo(p.latitude, 5);
      expect(fix.longitude, p.name).toBeCloseTo(p.longitude, 5);
      expect(fix.time).toBe(Date.UTC(2025, 5, 15, 8, 15, 0));
      // No course when standing still: absent, not zero.
      expect(fix.headingDeg).toBeUndefined();
    }
  });

  it('accepts any talker and reads fractional seconds', () => {
    for (const talker of ['GP', 'GN', 'GL', 'GA', 'BD', 'GB']) {
      const gps = new NmeaAssembler(systemClock);
      const fix = fixOf(gps.push(nmea(`${talker}RMC,235959.75,A,${lat(1.5)},${lon(-2.5)},1.0,90.0,311224,,,D`)));
      expect(fix.time).toBe(Date.UTC(2024, 11, 31, 23, 59, 59, 750));
    }
  });

  it('marks a fix invalid when RMC says V, or GGA says quality 0', () => {
    const rmcV = fixOf(new NmeaAssembler(systemClock).push(nmea(`GPRMC,101010,V,${lat(10)},${lon(20)},0.0,0.0,010125,,,N`)));
    expect(rmcV).toMatchObject({ valid: false, latitude: expect.closeTo(10, 5) });
    const gga0 = fixOf(new NmeaAssembler(systemClock).push(nmea(`GPGGA,101010,${lat(10)},${lon(20)},0,00,99.9,,M,,M,,`)));
    expect(gga0).toMatchObject({ valid: false, quality: 0 });
    // A good RMC does not make the second valid when the GGA of the same second has no fix.
    const gps = new NmeaAssembler(systemClock);
    gps.push(nmea(`GPRMC,101010,A,${lat(10)},${lon(20)},0.0,0.0,010125,,,A`));
    expect(fixOf(gps.push(nmea(`GPGGA,101010,${lat(10)},${lon(20)},0,00,99.9,,M,,M,,`))).valid).toBe(false);
  });

  it('reports "no fix" for a receiver that has no position yet, and does not count it as bad', () => {
    const now = Date.UTC(2025, 0, 1, 12, 0, 0);
    const gps = new NmeaAssembler(() => now);
    expect(gps.push(nmea('GPRMC,,V,,,,,,,,,,N'))).toEqual({ kind: 'no-fix', time: now, refines: false });
    expect(gps.push(nmea('GPGGA,120001.00,,,,,0,00,99.99,,,,,,'))).toMatchObject({ kind: 'no-fix', time: now + 1000 });
    expect(gps.badSentences).toBe(0);
  });

  it('refuses a wrong checksum, a missing checksum, garbage and truncated lines, and counts them', () => {
    const gps = new NmeaAssembler(systemClock);
    const lines = [
      RMC_1994.replace('*6A', '*6B'),
      RMC_1994.replace('4807.038', '4807.039'),
      RMC_1994.slice(0, RMC_1994.indexOf('*')),
      '$GPRMC,123519,A,4807.0',
      'hello world',
      '\u0000\u00ff\u00fe$\u0001\u0002*zz',
      '',
    ];
    const events = lines.map((line) => gps.push(line));
    for (const event of events) expect(event.kind).toBe('refused');
    expect(events[0]).toEqual({ kind: 'refused', error: 'checksum 6B does not match 6A' });
    expect(events[1]).toMatchObject({ error: expect.stringMatching(/checksum .* does not match/) });
    expect(events[2]).toMatchObject({ error: expect.stringMatching(/no checksum/) });
    expect(events[3]).toMatchObject({ error: expect.stringMatching(/no checksum/) });
    expect(gps.sentences).toBe(lines.length);
    expect(gps.badSentences).toBe(lines.length);
  });

  it('refuses well-formed sentences whose numbers are missing or are not numbers', () => {
    const bad = [
      [nmea(`GPRMC,123519,A,,N,01131.000,E,022.4,084.4,230394,,`), /RMC: empty latitude/],
      [nmea(`GPRMC,123519,A,4807.038,N,01131.000,E,fast,084.4,230394,,`), /speed "fast" is not a number/],
      [nmea(`GPRMC,123519,A,4807.038,Q,01131.000,E,022.4,084.4,230394,,`), /hemisphere "Q"/],
      [nmea(`GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,310294,,`), /date "310294" does not exist/],
      [nmea(`GPRMC,126519,A,4807.038,N,01131.000,E,022.4,084.4,230394,,`), /time "126519"/],
      [nmea(`GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4`), /fields, at least 9 expected/],
      [nmea(`GPGGA,123519,4807.038,N,01131.000,E,,08,0.9,545.4,M,46.9,M,,`), /empty fix quality/],
      [nmea(`GPGGA,123519,4807.038,N,01131.000,E,1,eight,0.9,545.4,M,46.9,M,,`), /satellites "eight"/],
      [nmea(`GPGGA,123519,9107.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`), /latitude "9107.038" is out of range/],
    ] as const;
    for (const [line, reason] of bad) {
      const result = parseSentence(line);
      expect(result.ok, line).toBe(false);
      if (!result.ok) expect(result.error, line).toMatch(reason);
    }
  });

  it('counts other sentence types as good but makes nothing of them', () => {
    const gps = new NmeaAssembler(systemClock);
    const others = [
      nmea('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00'),
      nmea('GNGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1'),
      nmea('GPVTG,054.7,T,034.4,M,005.5,N,010.2,K'),
      nmea('GPTXT,01,01,02,ANTSTATUS=OK'),
      nmea('PUBX,00,081350.00,4717.113210,N,00833.915187,E'),
    ];
    for (const line of others) expect(gps.push(line)).toEqual({ kind: 'ignored' });
    expect(gps.sentences).toBe(others.length);
    expect(gps.badSentences).toBe(0);
  });

  it('accepts a lower-case checksum and skips noise before the "$"', () => {
    expect(parseSentence(`\u0000\u00ff,07*1F${RMC_1994}\r\n`).ok).toBe(true);
    expect(parseSentence(RMC_1994.replace('*6A', '*6a')).ok).toBe(true);
  });

  it('dates a GGA by the last RMC across midnight', () => {
    const gps = new NmeaAssembler(() => Date.UTC(2030, 0, 1));
    fixOf(gps.push(nmea(`GPRMC,235959.00,A,${lat(50)},${lon(8)},0.0,,311224,,,A`)));
    const fix = fixOf(gps.push(nmea(`GPGGA,000000.00,${lat(50)},${lon(8)},1,07,1.1,120.0,M,47.0,M,,`)));
    expect(new Date(fix.time).toISOString()).toBe('2025-01-01T00:00:00.000Z');
  });

  it('dates a GGA by the system clock when no RMC has come, on the nearer side of midnight', () => {
    const justBefore = new NmeaAssembler(() => Date.UTC(2025, 5, 1, 23, 59, 59, 500));
    const after = fixOf(justBefore.push(nmea(`GPGGA,000000.20,${lat(50)},${lon(8)},1,07,1.1,120.0,M,47.0,M,,`)));
    expect(new Date(after.time).toISOString()).toBe('2025-06-02T00:00:00.200Z');
    const justAfter = new NmeaAssembler(() => Date.UTC(2025, 5, 2, 0, 0, 0, 300));
    const before = fixOf(justAfter.push(nmea(`GPGGA,235959.90,${lat(50)},${lon(8)},1,07,1.1,120.0,M,47.0,M,,`)));
    expect(new Date(before.time).toISOString()).toBe('2025-06-01T23:59:59.900Z');
  });
});
