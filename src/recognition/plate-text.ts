/**
 * Reads the plate number in a plate candidate region with PP-OCR: the text detector finds the rows of text in the
 * region, rows side by side are joined into one line, the tallest rows are read by the recognizer, and the row
 * that looks like a plate number is chosen (5-8 letters and digits, the tallest characters, a layout of the
 * country; not a state name, slogan or other word). Its candidate texts are ranked with the country's layouts
 * (rankCandidates: position-aware O/0, I/1, B/8, S/5, Z/2... where a layout wants a letter or a digit).
 */
import type { Country } from './config.js';
import { rankCandidates, type Candidate, type CharReading } from './candidates.js';
import { cv, type Mat } from './cv.js';
import { hasPlateDigit, LENGTH_BOUNDS, plateSpelling, US_STATE_FORMATS } from './formats.js';
import type { PpOcr, RecLine } from './ppocr.js';
import type { Box } from './types.js';
import { stateFromRows, type PlateState, type TextRow } from './us-states.js';

/** Character height (pixels) at which the detector looks for text rows in a region. */
const DET_CHAR_HEIGHT = 36;
/**
 * Character height guessed for a plate crop, as a share of its height (a crop's characters are not measured): a US
 * plate's are about 40% of it. At the 0.5 guessed before, the detector saw a crop 64 px tall (its input is rounded to
 * 32 px) and missed rows: the 751 US crops read 85.1% exactly, 88.3% at 0.375 (96 px), no better at taller inputs.
 */
const CROP_CHAR_SHARE = 0.4;
/** Margin read on each side of a row, as a share of its height (US crops: 83.0% read with none, 84.6-84.8% at 0.25-0.4). */
const ROW_MARGIN = 0.3;
/** A character at the row's edge is kept, whatever its place, when the recognizer gives it at least this probability. */
const EDGE_SURE = 0.9;
/** Rows read per region, tallest first. */
const MAX_ROWS = 3;

export interface PlateTextOptions {
  country: Country;
  topN: number;
  /** Candidates under this confidence (0-100) are dropped as garbage. */
  minConfidence: number;
  /** Fewest plate characters a read must have. */
  minChars: number;
  /** Expected character height in the image (pixels), if known; else CROP_CHAR_SHARE of the image height. */
  charHeight?: number;
  /** A row whose text holds a clock's time (digits, a colon, two digits) is no plate. */
  refuseClockTimes?: boolean;
}

export interface PlateText {
  text: string;
  confidence: number;
  candidates: Candidate[];
  region?: string;
  /** The chosen row of characters, in the image's coordinates. */
  row: Box;
  /** US plates: the state named by the region's other rows (its name or slogan), where one was legible. */
  state?: PlateState;
}

/** Words printed on plates that are not the plate number: US state names and common slogan words. */
const PLATE_WORDS = new Set(
  (
    'ALABAMA ALASKA ARIZONA ARKANSAS CALIFORNIA COLORADO CONNECTICUT DELAWARE FLORIDA GEORGIA HAWAII IDAHO ILLINOIS ' +
    'INDIANA IOWA KANSAS KENTUCKY LOUISIANA MAINE MARYLAND MASSACHUSETTS MICHIGAN MINNESOTA MISSISSIPPI MISSOURI ' +
    'MONTANA NEBRASKA NEVADA NEWHAMPSHIRE NEWJERSEY NEWMEXICO NEWYORK NORTHCAROLINA NORTHDAKOTA OHIO OKLAHOMA OREGON ' +
    'PENNSYLVANIA RHODEISLAND SOUTHCAROLINA SOUTHDAKOTA TENNESSEE TEXAS UTAH VERMONT VIRGINIA WASHINGTON ' +
    'WESTVIRGINIA WISCONSIN WYOMING DISTRICT COLUMBIA AMERICA USA STATE SUNSHINE LINCOLN EMPIRE GARDEN GRAND CANYON ' +
    'LONESTAR EXPLORE DEALER BRASIL BRAZIL'
  ).split(' '),
);

/** True when a row's text is a word, not a plate number: a state name or slogan, or written in lower case. */
export function looksLikeWords(text: string, raw: string): boolean {
  if (PLATE_WORDS.has(text)) return true;
  for (const w of PLATE_WORDS) if (w.length >= 5 && text.length >= 5 && text.includes(w)) return true;
  // Plate numbers are capitals; state names and slogans are often set in mixed case.
  const lower = raw.replace(/[^a-z]/g, '').length;
  return lower >= 3 && lower >= text.length * 0.5;
}

/** A row of text: the detector's boxes side by side (`parts`, left to right) joined. */
export interface JoinedRow extends Box {
  parts: Box[];
}

/** Groups text boxes into rows: boxes side by side at the same height are one row (a plate's two halves). */
export function joinRows(boxes: Box[]): JoinedRow[] {
  const rows: JoinedRow[] = [];
  const sorted = [...boxes].sort((a, b) => a.x - b.x);
  for (const b of sorted) {
    const row = rows.find((r) => {
      const overlap = Math.min(r.y + r.height, b.y + b.height) - Math.max(r.y, b.y);
      const hRatio = Math.min(r.height, b.height) / Math.max(r.height, b.height);
      const gap = b.x - (r.x + r.width);
      return overlap >= 0.5 * Math.min(r.height, b.height) && hRatio >= 0.5 && gap < 3 * Math.max(r.height, b.height);
    });
    if (!row) {
      rows.push({ x: b.x, y: b.y, width: b.width, height: b.height, parts: [b] });
      continue;
    }
    row.parts.push(b);
    const x1 = Math.max(row.x + row.width, b.x + b.width);
    const y1 = Math.max(row.y + row.height, b.y + b.height);
    row.x = Math.min(row.x, b.x);
    row.y = Math.min(row.y, b.y);
    row.width = x1 - row.x;
    row.height = y1 - row.y;
  }
  return rows;
}

interface RowRead {
  row: Box;
  /** The detector's row it was read from. */
  source: Box;
  line: RecLine;
  /** The row's plate characters as read, ranked into candidates. */
  chars: CharReading[];
  candidates: Candidate[];
  score: number;
}

/** What one direct read of a row says: a plate (confident, of the country's shape), no plate at all, or unsure. */
export type DirectVerdict = { kind: 'plate'; text: PlateText } | { kind: 'none' } | { kind: 'unsure' };

/** A direct read at or above this confidence (0-100), 5-8 characters, not words: the plate, no row search. */
const DIRECT_CONFIDENT = 85;
/** A direct read with fewer plate characters than this, or under this confidence: nothing plate-like there. */
const DIRECT_NONE_CONFIDENCE = 30;

/**
 * A row the gate (the plate model) reads with less than this sum of its characters' probabilities holds no plate:
 * PP-OCR's recognizer is not run on it. The plate model reads 5-8 characters at 0.7-1.0 each on a plate's row; on
 * a grille's, a sign's or a shadow's it reads nothing or one to three doubtful characters. Of the Brazil photos'
 * directly read rows, every one that gave a plate had a sum of 5.5 or more; 219 of the 269 that gave none were
 * under 3.
 */
const GATE_MIN = 3;
/**
 * What the plate model's probability for a character weighs beside PP-OCR's in a US plate's row read by both
 * (withGate): a quarter, as the weaker reader (alone it reads 54% of the 751 US crops, PP-OCR 88%). Weighed equally,
 * its mistakes cost more than it mended (US crops 88.4 -> 87.6%).
 */
const GATE_WEIGHT = 0.25;

/** What reads one row of text: PP-OCR's recognizer, or the plate-ctc model (plate-ctc.ts). */
export interface LineReader {
  readLine(img: Mat): Promise<RecLine>;
}

/**
 * The reader: PP-OCR's detector finds the rows, a line reader (PP-OCR's recognizer unless another is given) reads
 * them, and the plate number's row is chosen.
 */
export class PlateTextReader {
  constructor(
    private readonly ocr: PpOcr,
    private readonly lines: LineReader = ocr,
    private readonly gate?: LineReader,
  ) {}

  /** The gate's runs so far (each read of a row or a plate's face: gateSees, readDirect, gateAgrees, withGate), and how many found no plate (the line reader not run). */
  readonly gated = { runs: 0, none: 0 };

  /**
   * Whether the gate sees a plate in an image (a row, or a plate's whole face: the plate model was trained on whole
   * plates with their state names and slogans): the sum of its characters' probabilities is GATE_MIN or more.
   * Always true without a gate.
   */
  async gateSees(img: Mat, min = GATE_MIN): Promise<boolean> {
    const line = await this.gateRead(img);
    return !line || this.sees(line, min);
  }

  /** The gate's read of an image, counted in `gated.runs`; undefined without a gate or where it is the line reader. */
  private async gateRead(img: Mat): Promise<RecLine | undefined> {
    if (!this.gate || this.gate === this.lines) return undefined;
    this.gated.runs++;
    return this.gate.readLine(img);
  }

  /** The gate's read of a row (cropped as the line reader crops it); undefined as gateRead, or for a row too small to crop. */
  private async gateLine(img: Mat, row: Box): Promise<RecLine | undefined> {
    const crop = rowCrop(img, row);
    return crop ? this.gateRead(crop.img) : undefined;
  }

  /** Whether a gate's read holds a plate: the sum of its characters' probabilities is `min` or more (counted in `gated.none` where not). */
  private sees(line: RecLine, min: number): boolean {
    if (line.chars.reduce((sum, c) => sum + (c.choices[0]?.p ?? 0), 0) >= min) return true;
    this.gated.none++;
    return false;
  }

  /**
   * Reads one row of characters as given (a row the frame's finder found), with no row search: one recognizer
   * run. For US plates the band just above the row is read too (one more run), for the state's name.
   */
  async readDirect(img: Mat, row: Box, opts: PlateTextOptions): Promise<DirectVerdict> {
    // The gate (a small plate model, about 1 ms) reads the row first: where it sees no plate, the line reader
    // (7-25 ms) is not run. A row too small to crop reads as nothing either way.
    const crop = rowCrop(img, row);
    if (!crop) return { kind: 'none' };
    const gated = await this.gateRead(crop.img);
    if (gated && !this.sees(gated, GATE_MIN)) return { kind: 'none' };
    const seen: Array<TextRow & { row: Box }> = [];
    const r = await this.readRow(img, row, row.height, opts, seen);
    const raw = seen[0];
    if (!r) {
      const plateChars = raw ? raw.text.replace(/[^A-Za-z0-9]/g, '').length : 0;
      return plateChars < opts.minChars || (raw?.confidence ?? 0) * 100 < DIRECT_NONE_CONFIDENCE ? { kind: 'none' } : { kind: 'unsure' };
    }
    const top = r.candidates[0]!;
    const n = top.text.length;
    if (top.confidence < DIRECT_CONFIDENT || n < 5 || n > 8 || looksLikeWords(r.line.text, r.line.raw)) return { kind: 'unsure' };
    const state = opts.country === 'us' ? await this.readState(img, r.row, opts, ['above']) : undefined;
    // the gate's read of the row (r.source) weighs in on PP-OCR's: it is not read again
    return { kind: 'plate', text: plateText(await this.withGate(img, r, opts, gated), opts, state) };
  }

  /**
   * A US plate's state from the bands of the image just above and/or below its number's row (where its name or
   * slogan is printed): one recognizer run per band; undefined where no band names a state legibly.
   */
  async readState(img: Mat, row: Box, opts: PlateTextOptions, sides: Array<'above' | 'below'>): Promise<PlateState | undefined> {
    const h = row.height;
    const seen: Array<TextRow & { row: Box }> = [];
    for (const side of sides) {
      const y0 = side === 'above' ? Math.max(0, Math.round(row.y - 1.1 * h)) : Math.round(row.y + row.height);
      const y1 = side === 'above' ? Math.round(row.y) : Math.min(img.rows, Math.round(row.y + row.height + 1.1 * h));
      const x0 = Math.max(0, Math.round(row.x - h));
      const wide: Box = { x: x0, y: y0, width: Math.min(img.cols - x0, Math.round(row.width + 2 * h)), height: y1 - y0 };
      if (wide.height < 6) continue;
      const band = textSpan(img, wide);
      await this.readRow(img, band, band.height, { ...opts, minChars: 99 }, seen);
    }
    return stateFromRows(seen);
  }

  /**
   * Whether the gate (the plate model, trained on generated plates alone) reads a row as `text`, letter for letter
   * (O and 0 alike, as US plates print them). False without a gate, or where the gate is the line reader itself.
   */
  async gateAgrees(img: Mat, row: Box, text: string): Promise<boolean> {
    const line = await this.gateLine(img, row);
    return !!line && plateSpelling(line.text, 'us') === plateSpelling(text, 'us');
  }

  /**
   * A US plate's row (one with a digit) read by the gate, the plate model, as well: where it reads as many characters
   * as PP-OCR did, each of PP-OCR's choices for a character weighs in the plate model's probability for it
   * (GATE_WEIGHT), and the row is ranked again; where that changes the text, the new ranking is the read. The two
   * models err differently: PP-OCR reads South Dakota's 1NU656 as INU656 and Wisconsin's 687AHV as 687AHY where the
   * plate model reads them right. Letters-only reads are left as read (the plate model's agreement
   * decides whether they are kept at all: gateAgrees), as are other countries' (the plate model reads Brazil's O as
   * D: 4 of the 114 Brazilian photos were lost with it) and rows the two models read with different numbers of
   * characters.
   */
  private async withGate(img: Mat, r: RowRead, opts: PlateTextOptions, sourceRead?: RecLine): Promise<RowRead> {
    if (opts.country !== 'us' || !hasPlateDigit(r.candidates[0]!.text, 'us')) return r;
    const other = (sourceRead ?? (await this.gateLine(img, r.source)))?.chars;
    if (!other || other.length !== r.chars.length) return r;
    const chars = r.chars.map((c, i) => ({ ...c, choices: weighChoices(c.choices, other[i]!.choices, GATE_WEIGHT) }));
    const candidates = ranked(chars, opts);
    // the same text: PP-OCR's read as it was (a read at 70-72, near what keeps a read that fits no layout, would fall
    // under it for a character the plate model doubts: Hawaii's WH6K0 and a 4-digit 2861 were lost in 640 px frames)
    if (!candidates[0] || candidates[0].text.length < opts.minChars || candidates[0].text === r.candidates[0]!.text) return r;
    return { ...r, chars, candidates };
  }

  /** Reads the plate number in an image region (grey or BGR); undefined when nothing plate-like is read. */
  async read(img: Mat, opts: PlateTextOptions): Promise<PlateText | undefined> {
    const charHeight = opts.charHeight ?? img.rows * CROP_CHAR_SHARE;
    const scale = Math.max(0.25, Math.min(4, DET_CHAR_HEIGHT / Math.max(4, charHeight)));
    const boxes = await this.ocr.detect(img, 960, scale);
    const rows = joinRows(boxes)
      .filter((r) => r.width >= r.height * 0.8 && r.height >= 4)
      .sort((a, b) => b.height - a.height)
      .slice(0, MAX_ROWS);
    const full: JoinedRow = { x: 0, y: 0, width: img.cols, height: img.rows, parts: [] };
    // No text row found (small or low-contrast crops): the whole region is read as one line.
    if (rows.length === 0) rows.push(full);
    const tallest = Math.max(...rows.map((r) => r.height));
    const reads: RowRead[] = [];
    // every row's text as read, the plate number's too: the others may name the state
    const seen: Array<TextRow & { row: Box }> = [];
    for (const row of rows) {
      const r = await this.readRow(img, row, tallest, opts, seen);
      if (r) {
        reads.push(r);
        continue;
      }
      // A row joined of several boxes that reads as no plate (a plate and a badge or a word beside it, too many
      // characters together): its boxes are read one by one, those at least a third of the tallest row's height.
      if (row.parts.length < 2) continue;
      for (const part of row.parts.filter((p) => p.height >= tallest / 3 && p.width >= p.height)) {
        const pr = await this.readRow(img, part, tallest, opts, seen);
        if (pr) reads.push(pr);
      }
    }
    reads.sort((a, b) => b.score - a.score);
    const best = reads[0];
    if (!best) return undefined;
    const state = opts.country === 'us' ? stateFromRows(seen.filter((s) => s.row !== best.source)) : undefined;
    return plateText(await this.withGate(img, best, opts), opts, state);
  }

  private async readRow(
    img: Mat,
    row: Box,
    tallest: number,
    opts: PlateTextOptions,
    seen: Array<TextRow & { row: Box }>,
  ): Promise<RowRead | undefined> {
    const c = rowCrop(img, row);
    if (!c) return undefined;
    const { x0, x, y, w, h } = c;
    const line = await this.lines.readLine(c.img);
    const ps = line.chars.map((c) => c.choices[0]?.p ?? 0);
    seen.push({ text: line.raw, confidence: ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : 0, row });
    // A character read wholly in the margin, outside the row the detector saw, is kept only when the recognizer is
    // sure of it: there it is more often a bolt, the frame's edge or a sticker than a character the box cut.
    const inRow = line.chars.filter((c) => {
      const overlaps = x0 + (c.x1 ?? 0) > x && x0 + (c.x0 ?? 0) < x + w;
      return overlaps || (c.choices[0]?.p ?? 0) >= EDGE_SURE;
    });
    // A clock's time ("16:42"), where asked: small print is more often a time than a plate. (Not always: a plate's
    // seal or dash between digits can read as a colon, 2 of the 108 EU photos.)
    if (opts.refuseClockTimes && /\d:\d\d/.test(line.raw)) return undefined;
    const chars = trimEdges(inRow);
    if (chars.length < opts.minChars) return undefined;
    const bounds = LENGTH_BOUNDS[opts.country];
    const candidates = ranked(chars, opts);
    const top = candidates[0];
    if (!top || top.text.length < opts.minChars) return undefined;
    const n = top.text.length;
    const words = looksLikeWords(line.text, line.raw);
    let score = row.height / tallest;
    if (top.region) score += 0.3;
    score += n >= 5 && n <= 8 ? 0.3 : n >= bounds.min && n <= bounds.max ? 0.1 : -0.3;
    if (words) score -= 0.8;
    score += 0.2 * (top.confidence / 100);
    return { row: charSpan(chars, x0, { x, y, width: w, height: h }), source: row, line, chars, candidates, score };
  }
}

/**
 * One character's choices as read (`own`), each weighed with another model's probability for the same character:
 * (1 - w) * own + w * other, 0 where the other gave it none. A character only the other model offers is not added:
 * with a US layout behind it, a letter PP-OCR never considered would win on the plate model's word alone (Illinois'
 * leading 4, which PP-OCR reads at 1.00, taken as the plate model's L on 4 of the 751 US crops).
 */
export function weighChoices(own: CharReading['choices'], other: CharReading['choices'], w: number): CharReading['choices'] {
  return own
    .map((c) => ({ ch: c.ch, p: (1 - w) * c.p + w * (other.find((o) => o.ch === c.ch)?.p ?? 0) }))
    .sort((a, b) => b.p - a.p);
}

/** A row's characters ranked as the country's (and where given the state's) plates, those under the least confidence left out. */
function ranked(chars: CharReading[], opts: PlateTextOptions, state?: string): Candidate[] {
  return rankCandidates(chars, opts.country, opts.topN, state).filter((c) => c.confidence >= opts.minConfidence);
}

/**
 * A row's read as the plate's text. Where the plate's state was read and it has layouts of its own, the row's
 * characters are ranked again with them (a doubtful character takes its state's class); otherwise as ranked.
 */
function plateText(r: RowRead, opts: PlateTextOptions, state: PlateState | undefined): PlateText {
  let candidates = r.candidates;
  if (state && US_STATE_FORMATS[state.code]) {
    const byState = ranked(r.chars, opts, state.code);
    if (byState[0] && byState[0].text.length >= opts.minChars) candidates = byState;
  }
  const top = candidates[0]!;
  return { text: top.text, confidence: top.confidence, candidates, ...(top.region ? { region: top.region } : {}), row: r.row, ...(state ? { state } : {}) };
}

/**
 * The image a row is read from: the row with a margin of the image on each side, ROW_MARGIN of its height (the
 * detector's boxes and the finder's rows are tight, and the recognizer drops a character that touches the crop's
 * edge); undefined for a row under 4 px either way.
 */
function rowCrop(img: Mat, row: Box): { img: Mat; x0: number; x: number; y: number; w: number; h: number } | undefined {
  const x = Math.max(0, Math.floor(row.x));
  const y = Math.max(0, Math.floor(row.y));
  const w = Math.min(img.cols - x, Math.ceil(row.width));
  const h = Math.min(img.rows - y, Math.ceil(row.height));
  if (w < 4 || h < 4) return undefined;
  const margin = Math.round(ROW_MARGIN * h);
  const x0 = Math.max(0, x - margin);
  return { img: img.getRegion(new cv.Rect(x0, y, Math.min(img.cols, x + w + margin) - x0, h)), x0, x, y, w, h };
}

/**
 * A band narrowed to the columns where its text lies (the recognizer's time grows with the width it reads, and a
 * state's name is often a third of its plate's width): per column, the strong vertical edges that are not part of
 * an edge as tall as the band (the plate's sides, its frame's), summed and smoothed over half the band's height so
 * that a word's letters join; the columns above a third of the strongest, around it, with the words beside it; and
 * a margin. The band as it is where that is most of it, or too short to be a word.
 */
export function textSpan(img: Mat, band: Box): Box {
  const roi = img.getRegion(new cv.Rect(band.x, band.y, band.width, band.height));
  const grey = roi.channels === 1 ? roi : roi.bgrToGray();
  const gx = grey.sobel(cv.CV_16S, 1, 0, 3).convertScaleAbs(1, 0);
  const edges = gx.threshold(Math.max(40, 3 * gx.mean().w), 255, cv.THRESH_BINARY);
  // An edge as tall as most of the band is the plate's side or its frame's, not a letter's.
  const tall = edges.morphologyEx(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(1, Math.max(3, Math.round(band.height * 0.7)))), cv.MORPH_OPEN);
  const cols = edges.sub(tall).reduce(0, cv.REDUCE_SUM, cv.CV_32S).getDataAsArray()[0]!;
  const r = Math.max(1, Math.round(band.height * 0.25));
  const smooth = cols.map((_, i) => {
    let sum = 0;
    for (let j = Math.max(0, i - r); j <= Math.min(cols.length - 1, i + r); j++) sum += cols[j]!;
    return sum;
  });
  let peak = 0;
  for (let i = 1; i < smooth.length; i++) if (smooth[i]! > smooth[peak]!) peak = i;
  const floor = smooth[peak]! / 3;
  // the run of columns above the floor around the peak, joined to the runs beside it across gaps shorter than the
  // space between two words (a name or slogan of several words: "NEW MEXICO", "LAND OF ENCHANTMENT")
  const gap = Math.round(band.height * 0.6);
  const next = (i: number, step: 1 | -1): number => {
    for (let j = i + step, k = 0; j >= 0 && j < smooth.length && k <= gap; j += step, k++) if (smooth[j]! >= floor) return j;
    return -1;
  };
  let a = peak;
  for (let j = next(a, -1); j >= 0; j = next(a, -1)) a = j;
  let b = peak;
  for (let j = next(b, 1); j >= 0; j = next(b, 1)) b = j;
  const margin = Math.round(band.height * 0.3);
  const x0 = Math.max(0, a - margin);
  const x1 = Math.min(band.width, b + 1 + margin);
  if (x1 - x0 > 0.85 * band.width || x1 - x0 < 1.5 * band.height) return band;
  return { ...band, x: band.x + x0, width: x1 - x0 };
}

/**
 * The row narrowed to the characters read in it (their extents are in the crop read from `cropX`): a detector's row
 * can take in a sticker or a word beside the plate, which the reading leaves out. The recognizer places each
 * character at its centre, so half a character (a third of the row's height) is added at each end.
 */
function charSpan(chars: CharReading[], cropX: number, row: Box): Box {
  const first = chars[0];
  const last = chars[chars.length - 1];
  if (first?.x0 === undefined || last?.x1 === undefined) return row;
  const pad = row.height / 3;
  const x = Math.max(row.x, Math.floor(cropX + first.x0 - pad));
  const end = Math.min(row.x + row.width, Math.ceil(cropX + last.x1 + pad));
  return end - x >= row.height ? { ...row, x, width: end - x } : row;
}

/** Drops a doubtful single character standing far apart at either end of the row (a bolt, a sticker, artwork). */
function trimEdges(chars: CharReading[]): CharReading[] {
  if (chars.length < 6) return chars;
  const out = [...chars];
  const gaps = out.slice(1).map((c, i) => c.x0! - out[i]!.x1!);
  const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
  const width = out.reduce((s, c) => s + (c.x1! - c.x0!), 0) / out.length;
  const far = (gap: number) => gap > Math.max(median * 3, width * 1.5);
  if (far(gaps[gaps.length - 1]!) && out[out.length - 1]!.choices[0]!.p < EDGE_SURE) out.pop();
  if (far(gaps[0]!) && out[0]!.choices[0]!.p < EDGE_SURE) out.shift();
  return out;
}
