/**
 * NMEA 0183 from a GPS receiver: checking and reading one sentence (RMC and GGA; any talker), and an assembler
 * that joins the RMC and GGA of one epoch (the receiver's second) into a Fix. No I/O; the clock is passed in.
 */
import type { Fix } from './types.js';
import type { Clock } from '../util/clock.js';

const KNOTS_TO_KMH = 1.852;
const DAY_MS = 86_400_000;

export interface LatLon {
  latitude: number;
  longitude: number;
}

/** Recommended minimum data: time, date, status, position, speed and course. */
export interface RmcSentence {
  type: 'rmc';
  /** GP (GPS), GN (combined), GL (GLONASS), GA (Galileo), BD/GB (BeiDou)... */
  talker: string;
  /** UTC time of day in ms, or null when the receiver does not know it yet. */
  timeOfDayMs: number | null;
  /** UTC midnight of the receiver's date (ms since the epoch), or null when absent. */
  dateMs: number | null;
  /** Status A and, from NMEA 2.3, a mode indicator other than N. */
  valid: boolean;
  position: LatLon | null;
  speedKmh: number | null;
  headingDeg: number | null;
}

/** Fix data: time, position, fix quality, satellites, HDOP, altitude. */
export interface GgaSentence {
  type: 'gga';
  talker: string;
  timeOfDayMs: number | null;
  /** Quality 1 to 6 with a position. */
  valid: boolean;
  position: LatLon | null;
  quality: number;
  satellites: number | null;
  hdop: number | null;
  altitudeM: number | null;
}

/** A well-formed sentence this module does not read (GSV, GSA, VTG, TXT, proprietary...). */
export interface OtherSentence {
  type: 'other';
  /** The address field: GPGSV, GNGSA, PUBX... */
  address: string;
}

export type NmeaSentence = RmcSentence | GgaSentence | OtherSentence;

export type ParseResult = { ok: true; sentence: NmeaSentence } | { ok: false; error: string };

/** Two upper-case hex digits: the XOR of every character between `$` and `*`. */
export function nmeaChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

/** A field that cannot be read; caught in parseSentence, never escapes it. */
class FieldError extends Error {}

/**
 * Checks and reads one line. Anything that is not a complete sentence with a matching checksum is refused with
 * a reason; nothing throws. Bytes before the last `$` are skipped, so a sentence that follows the tail of one
 * cut short (a port opened mid-sentence, a lost newline) is still read: its checksum vouches for it.
 */
export function parseSentence(line: string): ParseResult {
  const text = line.trim();
  if (text === '') return { ok: false, error: 'empty line' };
  const start = text.lastIndexOf('$');
  if (start < 0) return { ok: false, error: 'not a sentence (no "$")' };
  const star = text.indexOf('*', start);
  if (star < 0) return { ok: false, error: 'no checksum (no "*HH" at the end)' };
  const body = text.slice(start + 1, star);
  const given = text.slice(star + 1);
  if (!/^[0-9A-Fa-f]{2}$/.test(given)) return { ok: false, error: `malformed checksum "${printable(given)}"` };
  // Printable ASCII only; a receiver at the wrong baud rate sends bytes outside it.
  if (!/^[\x20-\x7e]*$/.test(body)) return { ok: false, error: 'non-printable characters in sentence' };
  const computed = nmeaChecksum(body);
  if (given.toUpperCase() !== computed) return { ok: false, error: `checksum ${given} does not match ${computed}` };

  const fields = body.split(',');
  const address = fields[0]!;
  // Proprietary sentences ($PUBX, $PMTK...) are the manufacturer's business.
  if (/^P[A-Z0-9]+$/.test(address)) return { ok: true, sentence: { type: 'other', address } };
  if (!/^[A-Z]{5}$/.test(address)) return { ok: false, error: `bad address field "${address}"` };
  const talker = address.slice(0, 2);
  try {
    switch (address.slice(2)) {
      case 'RMC':
        return { ok: true, sentence: readRmc(talker, fields) };
      case 'GGA':
        return { ok: true, sentence: readGga(talker, fields) };
      default:
        return { ok: true, sentence: { type: 'other', address } };
    }
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, error: `${address}: ${err.message}` };
    throw err;
  }
}

// $--RMC,hhmmss.ss,A,llll.ll,a,yyyyy.yy,a,x.x,x.x,ddmmyy,x.x,a[,m[,s]]*hh
function readRmc(talker: string, f: string[]): RmcSentence {
  requireFields(f, 10);
  const status = f[2];
  if (status !== 'A' && status !== 'V') throw new FieldError(`status "${status}" is neither A nor V`);
  // NMEA 2.3 mode indicator: N (no fix) overrides the status.
  const valid = status === 'A' && f[12] !== 'N';
  const sentence: RmcSentence = {
    type: 'rmc',
    talker,
    timeOfDayMs: timeOfDay(f[1]!),
    dateMs: date(f[9]!),
    valid,
    position: position(f[3]!, f[4]!, f[5]!, f[6]!),
    speedKmh: nonNegative(f[7]!, 'speed'),
    headingDeg: heading(f[8]!),
  };
  if (sentence.speedKmh !== null) sentence.speedKmh *= KNOTS_TO_KMH;
  if (valid && sentence.timeOfDayMs === null) throw new FieldError('status A without a time');
  if (valid && sentence.position === null) throw new FieldError('status A without a position');
  return sentence;
}

// $--GGA,hhmmss.ss,llll.ll,a,yyyyy.yy,a,q,nn,x.x,x.x,M,x.x,M,x.x,xxxx*hh
function readGga(talker: string, f: string[]): GgaSentence {
  requireFields(f, 10);
  const quality = integer(f[6]!, 'fix quality');
  if (quality === null) throw new FieldError('empty fix quality');
  const sentence: GgaSentence = {
    type: 'gga',
    talker,
    timeOfDayMs: timeOfDay(f[1]!),
    position: position(f[2]!, f[3]!, f[4]!, f[5]!),
    quality,
    // 7 (manual input) and 8 (simulator) are not measurements; 6 (dead reckoning) is the receiver's best estimate.
    valid: quality >= 1 && quality <= 6,
    satellites: integer(f[7]!, 'satellites'),
    hdop: nonNegative(f[8]!, 'HDOP'),
    altitudeM: decimal(f[9]!, 'altitude'),
  };
  if (quality > 0 && sentence.timeOfDayMs === null) throw new FieldError(`fix quality ${quality} without a time`);
  if (quality > 0 && sentence.position === null) throw new FieldError(`fix quality ${quality} without a position`);
  if (sentence.position === null) sentence.valid = false;
  return sentence;
}

function requireFields(f: string[], count: number): void {
  if (f.length < count) throw new FieldError(`${f.length - 1} fields, at least ${count - 1} expected`);
}

function decimal(field: string, name: string): number | null {
  if (field === '') return null;
  if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(field)) throw new FieldError(`${name} "${field}" is not a number`);
  return Number(field);
}

function nonNegative(field: string, name: string): number | null {
  const value = decimal(field, name);
  if (value !== null && value < 0) throw new FieldError(`${name} ${field} is negative`);
  return value;
}

function integer(field: string, name: string): number | null {
  if (field === '') return null;
  if (!/^\d+$/.test(field)) throw new FieldError(`${name} "${field}" is not a whole number`);
  return Number(field);
}

function heading(field: string): number | null {
  const value = decimal(field, 'course');
  if (value !== null && (value < 0 || value > 360)) throw new FieldError(`course ${field} is outside 0..360`);
  // Some receivers say 360 for north.
  return value === 360 ? 0 : value;
}

/** hhmmss or hhmmss.sss -> ms since UTC midnight. */
function timeOfDay(field: string): number | null {
  if (field === '') return null;
  const m = /^(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$/.exec(field);
  const [h, min, s] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  // 60 seconds happens during a leap second.
  if (!(h < 24 && min < 60 && s < 61)) throw new FieldError(`time "${field}" is not hhmmss`);
  return Math.round(((h * 60 + min) * 60 + s) * 1000);
}

/** ddmmyy -> ms since the epoch at UTC midnight. Two-digit years from 80 are 19xx (old receivers, old samples). */
function date(field: string): number | null {
  if (field === '') return null;
  const m = /^(\d{2})(\d{2})(\d{2})$/.exec(field);
  if (!m) throw new FieldError(`date "${field}" is not ddmmyy`);
  const [day, month, yy] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const year = yy >= 80 ? 1900 + yy : 2000 + yy;
  const ms = Date.UTC(year, month - 1, day);
  const back = new Date(ms);
  if (back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) {
    throw new FieldError(`date "${field}" does not exist`);
  }
  return ms;
}

/** Latitude ddmm.mmm + N/S and longitude dddmm.mmm + E/W; null when all four are empty (no fix yet). */
function position(lat: string, ns: string, lon: string, ew: string): LatLon | null {
  if (lat === '' && ns === '' && lon === '' && ew === '') return null;
  if (ns !== 'N' && ns !== 'S') throw new FieldError(`latitude hemisphere "${ns}" is neither N nor S`);
  if (ew !== 'E' && ew !== 'W') throw new FieldError(`longitude hemisphere "${ew}" is neither E nor W`);
  const latitude = degrees(lat, 'latitude', 90);
  const longitude = degrees(lon, 'longitude', 180);
  return { latitude: ns === 'S' ? -latitude : latitude, longitude: ew === 'W' ? -longitude : longitude };
}

function degrees(field: string, name: string, max: number): number {
  if (field === '') throw new FieldError(`empty ${name}`);
  if (!/^\d+(\.\d+)?$/.test(field)) throw new FieldError(`${name} "${field}" is not a number`);
  const value = Number(field);
  const whole = Math.floor(value / 100);
  const minutes = value - whole * 100;
  const result = whole + minutes / 60;
  if (minutes >= 60 || result > max) throw new FieldError(`${name} "${field}" is out of range`);
  return result;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 20);
}

/** What one line meant to the assembler. */
export type NmeaEvent =
  /** A position for an epoch. `refines`: the same epoch as the previous event, now with more sentences. */
  | { kind: 'fix'; fix: Fix; refines: boolean }
  /** The receiver is talking but has no position (no satellites yet, in a tunnel). */
  | { kind: 'no-fix'; time: number; refines: boolean }
  /** A good sentence that says nothing about the position. */
  | { kind: 'ignored' }
  | { kind: 'refused'; error: string };

interface Epoch {
  timeOfDayMs: number;
  rmc: RmcSentence | null;
  gga: GgaSentence | null;
}

/**
 * Takes the receiver's lines one by one and turns each RMC or GGA into a Fix for its epoch: RMC gives date, speed
 * and heading, GGA gives quality, satellites and altitude. Receivers send them in either order, so the fix of an
 * epoch is given again (refines: true) when its second sentence arrives, rather than held back a second.
 */
export class NmeaAssembler {
  /** Lines received (good and refused). */
  sentences = 0;
  /** Lines refused: bad checksum, garbage, malformed fields. */
  badSentences = 0;
  private epoch: Epoch | null = null;
  /** Time of the last RMC with a date: GGA has no date, so its day is the one that puts it nearest this. */
  private lastDated: number | null = null;

  /** `now`: the unit's clock, for the day of sentences that carry only a time of day. */
  constructor(private readonly now: Clock) {}

  push(line: string): NmeaEvent {
    this.sentences++;
    const parsed = parseSentence(line);
    if (!parsed.ok) {
      this.badSentences++;
      return { kind: 'refused', error: parsed.error };
    }
    const s = parsed.sentence;
    if (s.type === 'other') return { kind: 'ignored' };
    // A receiver without a clock yet: nothing to join, and the only time there is, is now.
    if (s.timeOfDayMs === null) {
      this.epoch = null;
      return { kind: 'no-fix', time: this.now(), refines: false };
    }

    const refines = this.epoch !== null && this.epoch.timeOfDayMs === s.timeOfDayMs;
    if (!refines) this.epoch = { timeOfDayMs: s.timeOfDayMs, rmc: null, gga: null };
    const epoch = this.epoch!;
    if (s.type === 'rmc') epoch.rmc = s;
    else epoch.gga = s;

    const time = this.timeOf(epoch);
    if (s.type === 'rmc' && s.dateMs !== null) this.lastDated = time;
    const { rmc, gga } = epoch;
    const where = gga?.position ?? rmc?.position ?? null;
    if (where === null) return { kind: 'no-fix', time, refines };

    const valid = (rmc?.valid ?? true) && (gga?.valid ?? true);
    const fix: Fix = { time, latitude: where.latitude, longitude: where.longitude, valid };
    if (gga) {
      fix.quality = gga.quality;
      if (gga.satellites !== null) fix.satellites = gga.satellites;
      if (gga.hdop !== null) fix.hdop = gga.hdop;
      if (gga.altitudeM !== null) fix.altitudeM = gga.altitudeM;
    }
    if (rmc?.speedKmh != null) fix.speedKmh = rmc.speedKmh;
    if (rmc?.headingDeg != null) fix.headingDeg = rmc.headingDeg;
    return { kind: 'fix', fix, refines };
  }

  /** Counts a line refused before it got here (too long to be a sentence). */
  refuse(error: string): NmeaEvent {
    this.sentences++;
    this.badSentences++;
    return { kind: 'refused', error };
  }

  private timeOf(epoch: Epoch): number {
    if (epoch.rmc?.dateMs != null) return epoch.rmc.dateMs + epoch.timeOfDayMs;
    return nearestDay(epoch.timeOfDayMs, this.lastDated ?? this.now());
  }
}

/**
 * The time with this time of day that lies nearest `reference`: yesterday's, today's or tomorrow's. A GGA at
 * 00:00:01 after an RMC dated the 5th at 23:59:59 is on the 6th.
 */
export function nearestDay(timeOfDayMs: number, reference: number): number {
  const midnight = Math.floor(reference / DAY_MS) * DAY_MS;
  let best = midnight + timeOfDayMs;
  for (const candidate of [best - DAY_MS, best + DAY_MS]) {
    if (Math.abs(candidate - reference) < Math.abs(best - reference)) best = candidate;
  }
  return best;
}
