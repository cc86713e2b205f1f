import type { Country, RecognitionConfig } from './config.js';
import { alignToGlyphs, blendReading, rankCandidates } from './candidates.js';
import { GlyphClassifier } from './glyph-classifier.js';
import { findSmallPlates, SMALL_PLATE_DEFAULTS, type SmallPlateOptions, type SmallPlateRegion } from './finder.js';
import { hasPlateDigit } from './formats.js';
import { namesState } from './us-states.js';
import { glyphInk } from './glyph-features.js';
import { OcrSetupError } from './ocr.js';
import { cv, type Mat } from './cv.js';
import { decodeImage, readImageFile } from './image.js';
import { OcrPool } from './ocr.js';
import { PlateTextReader, type PlateText } from './plate-text.js';
import type { PlateState } from './us-states.js';
import { PpOcr } from './ppocr.js';
import { PlateCtc } from './plate-ctc.js';
import { packageRoot } from '../util/paths.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findCharLines, renderLine, type CharLine, type Polarity } from './segment.js';
import { iou, type Box, type FrameResult, type PlateRead } from './types.js';

export interface RecognizeOptions {
  country?: Country;
  topN?: number;
}

/** Character height, in pixels, at which a candidate region is re-segmented and handed to OCR. */
const READ_CHAR_HEIGHT = 48;
/** Character height of the image given to tesseract. */
const OCR_CHAR_HEIGHT = 36;
/** A read of letters only, found in a frame, is kept at this confidence (0-100) or more: signs are words. */
const LETTERS_ONLY_MIN_CONFIDENCE = 85;
/**
 * A letters-only read whose US state's name was read on the same plate needs only this: the state's name says it is
 * a plate, not a word on a sign. A vanity plate fits no layout, and a text that fits none shows at most 80% of its
 * mean character probability (candidates.ts), so it never reaches 85 on its own; 70 asks a mean character
 * probability of 0.875.
 */
const LETTERS_ONLY_WITH_STATE = 70;
/**
 * A US letters-only read that the plate model reads the same, letter for letter, needs this (a mean character
 * probability of about 0.94): most vanity plates 60-90 px wide in a frame, whose state's name is then too small to
 * read, are kept (bench:small-plates: US plates 60 / 90 px 72.5 / 82 -> 77 / 84%), and most words on signs are not
 * (the 400 photos without a plate: 18 more false reads where such reads are kept at 75 without it, 4 with it).
 */
const LETTERS_ONLY_AGREED = 75;

/**
 * A line of characters tilted at least this much (5 degrees, in radians) is turned level before it is read. Under it
 * the finder's slope is often its own noise (small characters' bottoms a pixel apart, or a line cut short): at 3
 * degrees an EU photo's 7.5 px characters, level, were turned 3.7 degrees and lost.
 */
const MIN_DESKEW = (5 * Math.PI) / 180;
/**
 * ...and at most this much (18 degrees): a plate is read up to about 15 degrees of tilt (the finder's slope is
 * within 2-3 degrees of the true one). Text tilted further is mostly not a plate (a ball's or a poster's print, a
 * sign seen at an angle); it is read as it is, as before this turn existed.
 */
const MAX_DESKEW = (18 * Math.PI) / 180;

function lettersOnlyMin(read: { state?: PlateState }): number {
  return read.state ? LETTERS_ONLY_WITH_STATE : LETTERS_ONLY_MIN_CONFIDENCE;
}
/**
 * Confidence (0-100) a read from the late small-plate pass of a doubled frame needs. Such a frame is a small photo,
 * its late places are small print; under 85 they were signs' and labels' text (photos without a plate: 3 such reads
 * at 47-80), and so are clock times ("16:42 30.0" read at 98 as 1642300), which that pass refuses.
 */
const LATE_MIN = 85;
/**
 * A textured place is read only where the gate (the plate model, reading the place as a whole plate) sees at least
 * this sum of its characters' probabilities: one character's worth. Most such places are a grille's, a fence's or
 * a sign's texture, where it sees none; a small plate's blurred face is read by it poorly, so the bar is low (at 1.5
 * and 3, 2 and 3 of 60 EU plates 50 px wide in bench:small-plates were lost that were read without it; at 0.8, 1).
 */
const TEXTURE_GATE_MIN = 1;
/** Tallest character (frame pixels) the late small-plate pass of a doubled frame looks for. */
const DOUBLED_SMALL_MAX = 12;
/** Regions kept for the small-plate pass in a frame whose main pass alone fills maxCandidates. */
const SMALL_PLATE_ROOM = 2;
/**
 * The large-character pass (largeRegions): characters 26-48 px tall at full resolution (plates about 110-210 px
 * wide in a 1080p frame), the 6 most textured places segmented, the best line read (12 places and 2 lines read one
 * more US plate of 200 at 160 px in bench:small-plates, and took half as long again on a frame without a plate).
 */
const LARGE_PLATE: SmallPlateOptions = { minCharHeight: 26, maxCharHeight: 48, maxPlaces: 6, maxRegions: 1, textureReads: 0, fineBlocks: true };
/**
 * Confidence (0-100) a read in a frame (ppocr engines) needs when it fits none of the country's layouts, for a US
 * plate and for any plate in a frame's small print searched at its own size. On the 751 US crops such reads under 70
 * were right 5 times of 21 (70 and over: 161 of 203), and in a frame, signs' numbers and words are read as often as
 * plates. In a frame searched at its own size the small-plate pass sees signs' small print crisply ("1 HR PARKING"
 * read as 10ARKNG). (For European plates, whose layouts the project knows fewer of, this costs more than it saves in
 * a scaled-down frame: bench:small-plates EU 90-120 px -3 to -5 points for one false read in 40 busy frames.)
 */
const NO_LAYOUT_MIN = 70;
/** Confidence at which a region's other candidate lines are not read. */
const CONFIDENT_READ = 85;

/**
 * Narrowest copy a frame wider than it is scaled down to for the main search (or detector.maxWidth, where less). A
 * 1080p frame searched at 960 px (half its size) loses plates 60-160 px wide whose characters join each other, the
 * plate's edge or its artwork there; at 1280 px fewer join (bench:small-plates: US, EU and Brazil plates 60-90 px
 * wide 3-16 points more read exactly). A frame 960-1440 px wide is searched at 960 px: at its own size, or nearly, the
 * main search's threshold block (2.5 smallest characters) is too small for its plates' characters (Brazil photos
 * 1280 px wide: 95.6 -> 93.9% read at their own size).
 */
const MIN_SEARCH_WIDTH = 960;

/** The scale at which a frame `cols` pixels wide is searched (see Recognizer.searchScale). */
export function searchScale(cols: number, maxWidth: number): number {
  const width = Math.min(maxWidth, Math.max(Math.min(MIN_SEARCH_WIDTH, maxWidth), (cols * 2) / 3));
  return Math.min(1, width / cols) * (cols < 900 ? 2 : 1);
}

function odd(n: number): number {
  const r = Math.max(3, Math.round(n));
  return r % 2 === 1 ? r : r + 1;
}

/**
 * Finds plates in frames and reads them: OpenCV character-line segmentation (and optionally the plate cascade)
 * proposes regions. With the ppocr engine (the default) PP-OCR's text detector finds the rows of text in each
 * region and its recognizer reads them (plate-text.ts chooses the plate number's row); with the tesseract engine
 * each region is re-segmented at a fixed character height and its characters alone are read by tesseract. The
 * region's plate layouts rank the candidate texts either way.
 */
export class Recognizer {
  private constructor(
    private readonly config: RecognitionConfig,
    private readonly engine:
      | { kind: 'tesseract'; ocr: OcrPool }
      | { kind: 'ppocr'; ppocr: PpOcr; reader: PlateTextReader; plateCtc?: PlateCtc; gate?: PlateCtc },
    private readonly cascade: InstanceType<typeof cv.CascadeClassifier> | undefined,
    private readonly glyphs: GlyphClassifier | undefined,
  ) {}

  static async create(config: RecognitionConfig): Promise<Recognizer> {
    const cascade = config.detector.cascade ? loadPlateCascade() : undefined;
    if (config.ocr.engine === 'ppocr') {
      const ppocr = await PpOcr.create(config.ocr.models, config.ocr.foldModel);
      // the plate model as a gate: a row where it sees no plate is not read by PP-OCR's recognizer (plate-text.ts)
      const gate = config.ocr.gate
        ? await PlateCtc.create(config.ocr.plateModel).catch(async (err: unknown) => {
            await ppocr.close();
            throw err;
          })
        : undefined;
      return new Recognizer(config, { kind: 'ppocr', ppocr, reader: new PlateTextReader(ppocr, ppocr, gate), ...(gate ? { gate } : {}) }, cascade, undefined);
    }
    if (config.ocr.engine === 'plate-ctc') {
      // PP-OCR's detector finds the rows; the project's plate model reads them
      const plateCtc = await PlateCtc.create(config.ocr.plateModel);
      const ppocr = await PpOcr.create(config.ocr.models, config.ocr.foldModel).catch(async (err: unknown) => {
        await plateCtc.close();
        throw err;
      });
      return new Recognizer(config, { kind: 'ppocr', ppocr, reader: new PlateTextReader(ppocr, plateCtc), plateCtc }, cascade, undefined);
    }
    const glyphs = config.ocr.glyphWeight > 0 ? loadGlyphClassifier() : undefined;
    const ocr = await OcrPool.create(config.ocr.workers, config.ocr.tessdata, config.ocr.timeoutMs);
    return new Recognizer(config, { kind: 'tesseract', ocr }, cascade, glyphs);
  }

  /**
   * Model runs so far (ppocr engine): the cost of reading, independent of the machine's load. `rec` counts the line
   * reader's runs (PP-OCR's recognizer, or the plate model with the plate-ctc engine), `det` the text detector's,
   * `gate` the plate model's runs with the ppocr engine (recognition.ocr.gate: as a gate, confirming a vanity plate,
   * weighing in on a US plate's characters) and `gated` how many of its gate runs found no plate, so that the line
   * reader was not run.
   */
  get modelRuns(): { rec: number; det: number; gate: number; gated: number } | undefined {
    if (this.engine.kind !== 'ppocr') return undefined;
    const { ppocr, plateCtc, reader } = this.engine;
    return { rec: ppocr.runs.rec + (plateCtc?.runs.rec ?? 0), det: ppocr.runs.det, gate: reader.gated.runs, gated: reader.gated.none };
  }

  /** The text reader in use. */
  get engineName(): 'ppocr' | 'plate-ctc' | 'tesseract' {
    return this.engine.kind === 'ppocr' && this.engine.plateCtc ? 'plate-ctc' : this.engine.kind;
  }

  /** Threads reading text: the tesseract pool's workers, or the one ONNX session thread. */
  get ocrWorkers(): number {
    return this.engine.kind === 'tesseract' ? this.engine.ocr.size : 1;
  }

  async close(): Promise<void> {
    if (this.engine.kind === 'tesseract') await this.engine.ocr.close();
    else await Promise.all([this.engine.ppocr.close(), this.engine.plateCtc?.close(), this.engine.gate?.close()]);
  }

  async recognizeFile(file: string, opts: RecognizeOptions = {}): Promise<FrameResult> {
    const t0 = performance.now();
    const mat = await readImageFile(file, this.config);
    return this.recognizeMat(mat, opts, t0);
  }

  async recognizeBuffer(buf: Buffer, opts: RecognizeOptions = {}): Promise<FrameResult> {
    const t0 = performance.now();
    return this.recognizeMat(decodeImage(buf, this.config), opts, t0);
  }

  /** Finds and reads every plate in a whole frame. */
  async recognizeMat(frame: Mat, opts: RecognizeOptions = {}, t0 = performance.now()): Promise<FrameResult> {
    const country = opts.country ?? this.config.country;
    const topN = opts.topN ?? this.config.topN;
    const gray = frame.channels === 1 ? frame : frame.bgrToGray();
    const regions = this.proposeRegions(gray);
    // Regions are read concurrently: with more than one OCR worker their OCR runs in parallel threads. A region
    // whose reading fails is reported in `errors`; the frame's other regions are still read.
    const errors: string[] = [];
    // Rows the small-plate pass found whose direct read was unsure: their row search waits (see below).
    const deferred: Region[] = [];
    const readEach = (list: Region[], defer = false) =>
      Promise.all(
        list.map((r) =>
          this.readRegion(gray, r, country, topN, 4, defer && r.small ? deferred : undefined).catch((err: unknown) => {
            errors.push(`region at ${Math.round(r.box.x)},${Math.round(r.box.y)}: ${(err as Error)?.message ?? String(err)}`);
            return undefined;
          }),
        ),
      );
    const found = (list: Array<PlateRead | undefined>) => list.filter((r): r is PlateRead => r !== undefined);
    const rows = regions.filter((r) => !r.texture);
    // Small print just above or below another region's row (a state's name, a slogan, a dealer's frame) is read
    // only where that row read nothing: reading the plate reads its state's name already, and a row of small
    // print is seldom a plate of its own (and when it is, the row beside it is no plate and reads nothing).
    const owners = new Map(rows.map((r) => [r, rows.filter((o) => o !== r && isSmallPrintOf(r.box, o.box, 1.1))]));
    const first = rows.filter((r) => owners.get(r)!.length === 0);
    const firstReads = await readEach(first, true);
    const readRows = new Set(first.filter((_, i) => firstReads[i] !== undefined));
    const orphans = rows.filter((r) => owners.get(r)!.length > 0 && !owners.get(r)!.some((o) => readRows.has(o)));
    let reads = [...found(firstReads), ...found(await readEach(orphans, true))];
    // The row search (a detector run and a recognizer run per row) of the small-plate pass's unsure rows, and of its
    // textured places where no characters segmented, only in a frame where nothing else was read: a small plate
    // alone in a frame is the case they are for, and in a frame with a plate read they are mostly a grille's or a
    // sign's texture. With them, the line of the large-character pass: a place of large characters that the main
    // pass's threshold joined to something (their plate's edge, a dark band, artwork, the car).
    if (reads.length === 0) reads = found(await readEach([...deferred, ...this.largeRegions(gray, regions), ...regions.filter((r) => r.texture)]));
    // A frame under 900 px wide (doubled to be searched) where nothing was read: its small-plate pass, late.
    if (reads.length === 0) reads = found(await readEach(this.doubledSmallRegions(gray, regions)));
    // Overlapping reads are the same plate found twice: keep the more confident.
    reads.sort((a, b) => b.confidence - a.confidence);
    const plates: PlateRead[] = [];
    for (const r of reads) if (!plates.some((p) => iou(p.box, r.box) > 0.3)) plates.push(r);
    // Small print on a plate (the state's name, a slogan, a dealer's frame) is not a plate of its own.
    const kept = plates.filter((small) => !plates.some((big) => small !== big && isSmallPrintOf(small.box, big.box)));
    return {
      width: frame.cols,
      height: frame.rows,
      ms: round1(performance.now() - t0),
      plates: kept,
      ...(errors.length ? { errors } : {}),
    };
  }

  /**
   * Reads a plate crop (the plate fills most of the image): segmentation and OCR only, no plate finding.
   */
  async readCrop(crop: Mat, opts: RecognizeOptions = {}): Promise<PlateRead | undefined> {
    const country = opts.country ?? this.config.country;
    const topN = opts.topN ?? this.config.topN;
    const gray = crop.channels === 1 ? crop : crop.bgrToGray();
    const full: Box = { x: 0, y: 0, width: gray.cols, height: gray.rows };
    // Plate characters take 35-80% of a crop's height.
    const charGuess = gray.rows * 0.5;
    return this.readRegion(gray, { box: full, charHeight: charGuess, crop: true }, country, topN, 1);
  }

  /** Candidate regions in original-frame coordinates, with the character height seen there. */
  private proposeRegions(gray: Mat): Region[] {
    const det = this.config.detector;
    const scale = this.searchScale(gray);
    const work = scale === 1 ? gray : gray.rescale(scale);
    const minH = det.minCharHeight;
    const lines = findCharLines(work, {
      minCharHeight: minH,
      // Up to most of the frame: a close-up or a plate crop handed over as a frame is read too.
      maxCharHeight: Math.max(minH + 1, Math.round(work.rows * 0.9)),
      minChars: 4,
      maxChars: 10,
      blockSizes: [odd(minH * 2.5)],
    });
    const regions: Region[] = [];
    for (const line of lines) {
      const box = scaleBox({ x: line.x, y: line.y, width: line.w, height: line.h }, 1 / scale);
      if (regions.some((r) => iou(r.box, box) > 0.5)) continue;
      regions.push({ box, charHeight: line.charHeight / scale, polarity: line.polarity, angle: line.angle, crop: false });
      if (regions.length >= det.maxCandidates) break;
    }
    // Plates whose characters are too small for the scaled copy: searched at full resolution where it shows
    // plate-like texture (finder.ts). A frame at its own size (900-960 px wide: neither scaled down nor doubled) is
    // searched too, for characters from 8 px to a little over minCharHeight, which its main pass misses as a scaled
    // frame's does; its textured places are not read (they are for small characters that a scaled-down frame blurs
    // together).
    if (det.smallPlates && scale <= 1) {
      const ownSize = scale === 1;
      const textureReads = this.engine.kind === 'ppocr' && !ownSize ? det.textureReads : 0;
      const maxCharHeight = ownSize ? Math.ceil(1.2 * minH) : SMALL_PLATE_DEFAULTS.maxCharHeight;
      // Only the main pass's regions sure to be kept hide a place: one of its weakest, dropped below for the
      // small-plate pass's room, would hide the plate's own place (a US plate 90 px wide whose row was the main
      // pass's 19th region of 20, dropped, and its place, the texture map's first, skipped).
      const kept = regions.slice(0, Math.max(0, det.maxCandidates - SMALL_PLATE_ROOM));
      const small = findSmallPlates(gray, work, scale, kept, { ...SMALL_PLATE_DEFAULTS, maxCharHeight, textureReads, fineBlocks: !ownSize });
      // A busy frame (shop signs, a grille, a fence) can fill maxCandidates with the main pass's regions alone: the
      // small-plate pass keeps a few places of its own, in place of the main pass's weakest regions.
      const room = Math.max(det.maxCandidates - regions.length, Math.min(small.length, SMALL_PLATE_ROOM, det.maxCandidates));
      regions.length = Math.min(regions.length, det.maxCandidates - room);
      for (const s of small.slice(0, room)) {
        regions.push({ ...smallRegion(s, 1), texture: s.texture === true, small: ownSize ? 'own-size' : 'scaled' });
      }
    }
    if (this.cascade && regions.length < det.maxCandidates) {
      const small = gray.cols > 1280 ? gray.rescale(1280 / gray.cols) : gray;
      const f = gray.cols / small.cols;
      const found = this.cascade.detectMultiScale(small, 1.1, 3, 0, new cv.Size(40, 12)).objects;
      for (const r of found) {
        const box = scaleBox({ x: r.x, y: r.y, width: r.width, height: r.height }, f);
        if (regions.some((g) => iou(g.box, box) > 0.2)) continue;
        regions.push({ box, charHeight: box.height * 0.6, crop: false });
        if (regions.length >= det.maxCandidates) break;
      }
    }
    return regions;
  }

  /**
   * The small-plate pass of a frame under 900 px wide, which the main pass searches doubled: where the doubled copy
   * shows plate-like texture, that place is segmented again in it with threshold blocks finer than the main pass's
   * (characters of 8-10 px, doubled, are still blurred together at its block of 31 px). Empty for larger frames.
   */
  doubledSmallRegions(gray: Mat, known: Region[]): Region[] {
    const det = this.config.detector;
    const scale = this.searchScale(gray);
    if (!det.smallPlates || scale <= 1) return [];
    const work = gray.rescale(scale);
    const small = findSmallPlates(work, work, 1, known.map((r) => ({ box: scaleBox(r.box, scale), charHeight: r.charHeight * scale })), {
      ...SMALL_PLATE_DEFAULTS,
      maxCharHeight: Math.ceil(DOUBLED_SMALL_MAX * scale),
      textureReads: 0,
      fineBlocks: true,
    });
    return small.map((s) => ({ ...smallRegion(s, scale), small: 'own-size' as const, late: true }));
  }

  /**
   * The large-character pass of a frame (`detector.largePlates`): where a copy at half the search scale shows
   * plate-like texture with characters of LARGE_PLATE.minCharHeight-LARGE_PLATE.maxCharHeight px (full resolution)
   * that no known region holds, the place is segmented again at full resolution with threshold blocks of about half
   * its height. The main pass's block (31 px) is as large as such a plate's characters in the scaled copy: where a
   * character nearly touches its plate's edge, a dark band or artwork on the plate, or the dark car around it, the
   * threshold joins them, and the plate has no line of characters there. A frame searched at its own size has the
   * same pass, its texture map at half its size (plates 120-160 px wide in frames 960 px wide: 1 to 3 more of 60 read
   * in bench:small-plates); a doubled one from the smallest characters its late small-plate pass leaves (below).
   */
  largeRegions(gray: Mat, known: Region[]): Region[] {
    if (!this.config.detector.largePlates) return [];
    const scale = this.searchScale(gray);
    // A doubled frame (under 900 px wide): its plates 55-110 px wide have characters of 13-26 px, 26-52 in the
    // doubled copy, where the main search's threshold block (31 px) is as large as they are, the same trouble as a
    // large plate's in a scaled-down frame; its late small-plate pass stops at DOUBLED_SMALL_MAX, so this pass starts
    // there, with its texture map at the frame's own size (half the doubled copy; at half the frame's size,
    // characters of 13 px were 6 px tall there and such plates were not among its 6 places).
    const doubled = scale > 1;
    // Otherwise the texture map at half the search scale (a 1080p frame at 640 px): such characters' bars are plain
    // there, at about a third of the cost of a map at the search scale.
    const f = doubled ? 1 : scale / 2;
    const small = f === 1 ? gray : gray.resize(Math.round(gray.rows * f), Math.round(gray.cols * f), 0, 0, cv.INTER_AREA);
    // A textured place of the small-plate pass (no characters segmented there) does not hide a line found here.
    const lines = known.filter((r) => !r.texture);
    const opts = doubled ? { ...LARGE_PLATE, minCharHeight: DOUBLED_SMALL_MAX } : LARGE_PLATE;
    return findSmallPlates(gray, small, f, lines, opts).map((s) => smallRegion(s, 1));
  }

  /**
   * The scale at which a frame is searched: large frames are scaled down to find plates quickly, to two thirds of
   * their width, at least 960 px and at most detector.maxWidth (a 1080p frame to 1280 px, a 1280 px one to 960); small
   * ones (under 900 px) are doubled, so that their small characters are still several pixels wide.
   */
  private searchScale(gray: Mat): number {
    return searchScale(gray.cols, this.config.detector.maxWidth);
  }

  /** Re-segments one region at a fixed character height and reads its best line of characters. */
  private async readRegion(
    gray: Mat,
    region: Region,
    country: Country,
    topN: number,
    minChars: number,
    deferred?: Region[],
  ): Promise<PlateRead | undefined> {
    const ch = region.charHeight;
    const { x0, y0, x1, y1 } = regionWindow(gray, region, 1.2, 0.9);
    if (x1 - x0 < 8 || y1 - y0 < 8) return undefined;
    if (this.engine.kind === 'ppocr') return this.readRegionPpocr(this.engine.reader, gray, region, country, topN, minChars, deferred);
    const scale = READ_CHAR_HEIGHT / ch;
    const roi = gray.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0));
    const img = roi.resize(
      Math.max(8, Math.round(roi.rows * scale)),
      Math.max(8, Math.round(roi.cols * scale)),
      0,
      0,
      scale < 1 ? cv.INTER_AREA : cv.INTER_CUBIC,
    );
    const lines = findCharLines(img, {
      minCharHeight: Math.round(READ_CHAR_HEIGHT * (region.crop ? 0.45 : 0.6)),
      maxCharHeight: Math.round(READ_CHAR_HEIGHT * (region.crop ? 1.7 : 1.6)),
      minChars,
      maxChars: 10,
      blockSizes: [odd(READ_CHAR_HEIGHT * 1.6), odd(READ_CHAR_HEIGHT * 0.65), 0],
      band: true,
      ...(region.polarity ? { polarities: [region.polarity] } : {}),
    });
    const tried = new Set<string>();
    let best: PlateRead | undefined;
    for (const line of lines.slice(0, region.crop ? 3 : 2)) {
      const key = line.blobs.map((b) => `${b.x},${b.y}`).join(';');
      if (tried.has(key)) continue;
      tried.add(key);
      const read = await this.readLine(line, country, topN);
      if (!read) continue;
      const box = plateBox(line, x0, y0, scale, gray);
      const plate: PlateRead = { ...read, box };
      if (!best || plate.confidence > best.confidence) best = plate;
      // A confident read that fits a layout of the region is not bettered by reading the next line.
      if (best.region && best.confidence >= CONFIDENT_READ) break;
    }
    return best;
  }

  /**
   * PP-OCR on one region: a crop around it (the plate's margins, where the state name and slogan may be too),
   * rows found and read by plate-text.ts, and the plate's box from the chosen row. Given `deferred`, a region whose
   * direct read is unsure is put there instead of being searched for rows now.
   */
  private async readRegionPpocr(
    reader: PlateTextReader,
    gray: Mat,
    region: Region,
    country: Country,
    topN: number,
    minChars: number,
    deferred?: Region[],
  ): Promise<PlateRead | undefined> {
    const ch = region.charHeight;
    // wider than the tesseract path's window: the state's name and a slogan above and below are read too
    const { x0, y0, x1, y1 } = regionWindow(gray, region, 1.5, 1.0);
    let roi = gray.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0));
    // A tilted line of characters (a camera's roll, a car on a slope, a crooked plate) is turned level about its
    // centre before it is read: the recognizer reads level rows, and the detector finds them.
    const tilt = !region.crop && Math.abs(region.angle ?? 0) >= MIN_DESKEW && Math.abs(region.angle!) <= MAX_DESKEW ? region.angle! : 0;
    const cx = region.box.x + region.box.width / 2 - x0;
    const cy = region.box.y + region.box.height / 2 - y0;
    if (tilt !== 0) {
      const turn = cv.getRotationMatrix2D(new cv.Point2(cx, cy), (tilt * 180) / Math.PI, 1);
      roi = roi.warpAffine(turn, new cv.Size(roi.cols, roi.rows), cv.INTER_LINEAR, cv.BORDER_REPLICATE);
    }
    const opts = {
      country,
      topN,
      minConfidence: this.config.ocr.minConfidence,
      minChars,
      ...(region.crop ? {} : { charHeight: ch }),
      ...(region.late ? { refuseClockTimes: true } : {}),
    };
    // A textured place (its row search costs a detector run and a recognizer run or more) is read only where the
    // gate sees at least a character in it.
    if (region.texture) {
      const bx = Math.max(0, Math.round(region.box.x - x0));
      const by = Math.max(0, Math.round(region.box.y - y0));
      const face = roi.getRegion(new cv.Rect(bx, by, Math.max(2, Math.min(roi.cols - bx, Math.round(region.box.width))), Math.max(2, Math.min(roi.rows - by, Math.round(region.box.height)))));
      if (!(await reader.gateSees(face, TEXTURE_GATE_MIN))) return undefined;
    }
    let read: PlateText | undefined;
    let direct = false;
    // A textured place has no row of characters found in it (it may hold the state's name, the number and a
    // slogan): the reader searches its rows.
    if (!region.crop && !region.texture && !region.unsure && this.config.ocr.rowSearch === 'when-unsure') {
      // the finder's row, with a little margin for a character it cut at either end; once turned level, the
      // characters' own height about the line's centre
      const rowH = tilt !== 0 ? ch : region.box.height;
      const rowW = tilt !== 0 ? Math.max(ch, (region.box.width - ch * Math.abs(Math.sin(tilt))) / Math.cos(tilt)) : region.box.width;
      const row: Box = {
        x: Math.max(0, cx - rowW / 2 - ch * 0.4),
        y: Math.max(0, cy - rowH / 2 - ch * 0.15),
        width: Math.min(roi.cols, rowW + ch * 0.8),
        height: Math.min(roi.rows, rowH + ch * 0.3),
      };
      const verdict = await reader.readDirect(roi, row, opts);
      if (verdict.kind === 'none') return undefined;
      if (verdict.kind === 'plate') {
        read = verdict.text;
        direct = true;
      } else if (deferred) {
        deferred.push({ ...region, unsure: true });
        return undefined;
      }
    }
    read ??= await reader.read(roi, opts);
    if (!read) return undefined;
    // A clear read of letters only (a vanity plate, or a word on a sign) whose state was not read with it: the
    // bands above and below its row are read for the state's name or slogan, which says it is a plate (a direct
    // read has read the band above already).
    if (!region.crop && country === 'us' && !read.state && read.confidence >= LETTERS_ONLY_WITH_STATE && !hasPlateDigit(read.text, country)) {
      const state = await reader.readState(roi, read.row, opts, direct ? ['below'] : ['above', 'below']);
      if (state) read = { ...read, state };
    }
    // In a frame, words on signs, shop fronts and clothes are read as often as plates; a plate without a digit
    // (a vanity plate) is kept only when read clearly, with its state's name, or, for a US plate, where the plate
    // model reads its row the same, letter for letter: it knows plates' lettering and little else, and a sign's word
    // in the sign's own lettering it mostly reads otherwise.
    if (!region.crop && !hasPlateDigit(read.text, country) && read.confidence < lettersOnlyMin(read)) {
      const plateLettering = country === 'us' && read.confidence >= LETTERS_ONLY_AGREED && (await reader.gateAgrees(roi, read.row, read.text));
      if (!plateLettering) return undefined;
    }
    // A US plate's state name or slogan read in place of its number (or cut at the row's edge, or its kind: TRUCK)
    // is not a plate.
    if (!region.crop && country === 'us' && namesState(read.text)) return undefined;
    if (!region.crop && (country === 'us' || region.small === 'own-size') && !read.region && read.confidence < NO_LAYOUT_MIN) return undefined;
    if (region.late && read.confidence < LATE_MIN) return undefined;
    const { row, ...plate } = read;
    // The plate's box: the row of characters grown to the plate's usual margins (turned back where it was turned:
    // the box holds the tilted plate).
    const rch = row.height / 1.3;
    let grown: Box = { x: row.x - rch * 0.4, y: row.y - rch * 0.2, width: row.width + rch * 0.8, height: row.height + rch * 0.4 };
    if (tilt !== 0) grown = turnedBox(grown, cx, cy, -tilt);
    const x = Math.max(0, x0 + grown.x);
    const y = Math.max(0, y0 + grown.y);
    const box: Box = {
      x: Math.round(x),
      y: Math.round(y),
      width: Math.round(Math.min(gray.cols - x, x0 + grown.x + grown.width - x)),
      height: Math.round(Math.min(gray.rows - y, y0 + grown.y + grown.height - y)),
    };
    return { ...plate, box };
  }

  private async readLine(
    line: CharLine,
    country: Country,
    topN: number,
  ): Promise<Omit<PlateRead, 'box'> | undefined> {
    if (this.engine.kind !== 'tesseract') throw new Error('readLine is the tesseract engine\'s');
    const ocrPool = this.engine.ocr;
    const { image, glyphs } = renderLine(line, OCR_CHAR_HEIGHT);
    const ocr = await ocrPool.readLine(cv.imencode('.png', image));
    const aligned = alignToGlyphs(ocr.chars, glyphs, OCR_CHAR_HEIGHT);
    let chars = ocr.chars;
    if (aligned) {
      // Glyphs the line reading skipped are read one by one, so a character is never silently lost.
      for (let i = 0; i < aligned.length; i++) {
        if (aligned[i]!.length > 0) continue;
        const g = glyphs[i]!;
        const margin = OCR_CHAR_HEIGHT;
        const w = g.x1 - g.x0;
        const single = new cv.Mat(image.rows, w + 2 * margin, cv.CV_8UC1, 255);
        image.getRegion(new cv.Rect(g.x0, 0, w, image.rows)).copyTo(single.getRegion(new cv.Rect(margin, 0, w, image.rows)));
        const alone = await ocrPool.readLine(cv.imencode('.png', single));
        const best = [...alone.chars].sort((a, b) => b.choices[0]!.p - a.choices[0]!.p)[0];
        if (best) aligned[i] = [best];
      }
      if (this.glyphs && this.config.ocr.glyphWeight > 0) {
        aligned.forEach((list, i) => {
          if (list.length !== 1) return;
          const ink = glyphInk(image, glyphs[i]!.x0, glyphs[i]!.x1);
          if (ink) list[0] = blendReading(list[0]!, this.glyphs!.predict(ink), this.config.ocr.glyphWeight);
        });
      }
      chars = aligned.flat();
    }
    // Texts below the confidence floor are garbage, however well they fit a layout.
    const candidates = rankCandidates(chars, country, topN).filter((c) => c.confidence >= this.config.ocr.minConfidence);
    const top = candidates[0];
    if (!top) return undefined;
    return { text: top.text, confidence: top.confidence, candidates, ...(top.region ? { region: top.region } : {}) };
  }
}

/** The system's plate cascade (Debian's opencv-data), else the copy in the OpenCV binding's package. */
function loadPlateCascade(): InstanceType<typeof cv.CascadeClassifier> {
  const candidates = [
    '/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml',
    '/usr/share/opencv/haarcascades/haarcascade_russian_plate_number.xml',
    cv.HAAR_RUSSIAN_PLATE_NUMBER,
  ];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new OcrSetupError('recognition.detector.cascade is on but no plate cascade file exists (install opencv-data)');
  return new cv.CascadeClassifier(file);
}

/** The per-glyph classifier shipped in models/ (trained by scripts/train-glyphs.ts from rendered fonts). */
function loadGlyphClassifier(): GlyphClassifier {
  const file = path.join(packageRoot(), 'models', 'glyph-mlp.json');
  try {
    return GlyphClassifier.load(file);
  } catch (err) {
    throw new OcrSetupError(
      `cannot load the glyph classifier ${file}: ${(err as Error).message} (set recognition.ocr.glyphWeight to 0 to run without it)`,
    );
  }
}

interface Region {
  box: Box;
  charHeight: number;
  polarity?: Polarity;
  crop: boolean;
  /** A textured place where no line of characters segmented (finder.ts). */
  texture?: boolean;
  /** Found by the small-plate pass at full resolution (finder.ts), in a scaled-down frame or one at its own size. */
  small?: 'scaled' | 'own-size';
  /** Its row was read directly already, and the read was unsure: the row search comes next. */
  unsure?: boolean;
  /** Slope of its line of characters (radians, positive: falling to the right), where the finder measured one. */
  angle?: number;
  /** From the late small-plate pass of a doubled frame (doubledSmallRegions): its read must be clear. */
  late?: boolean;
}

/** A small-plate pass's region (found in an image `scale` times the frame's size) as a region of the frame. */
function smallRegion(s: SmallPlateRegion, scale: number): Region {
  return {
    box: scale === 1 ? s.box : scaleBox(s.box, 1 / scale),
    charHeight: s.charHeight / scale,
    ...(s.polarity ? { polarity: s.polarity } : {}),
    ...(s.angle !== undefined ? { angle: s.angle } : {}),
    crop: false,
  };
}

/**
 * The bounding box of `b` turned by `angle` radians about (cx, cy) as OpenCV's getRotationMatrix2D turns an image by
 * that many degrees (positive: anticlockwise as shown, y growing downwards).
 */
function turnedBox(b: Box, cx: number, cy: number, angle: number): Box {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const pts = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]].map(([x, y]) => [
    cx + cos * (x! - cx) + sin * (y! - cy),
    cy - sin * (x! - cx) + cos * (y! - cy),
  ]);
  const xs = pts.map((p) => p[0]!);
  const ys = pts.map((p) => p[1]!);
  return { x: Math.min(...xs), y: Math.min(...ys), width: Math.max(...xs) - Math.min(...xs), height: Math.max(...ys) - Math.min(...ys) };
}

/** The part of the frame read for a region: its box grown by fx, fy character heights (a crop is read whole). */
function regionWindow(gray: Mat, region: Region, fx: number, fy: number): { x0: number; y0: number; x1: number; y1: number } {
  const mx = region.crop ? 0 : Math.round(region.charHeight * fx);
  const my = region.crop ? 0 : Math.round(region.charHeight * fy);
  return {
    x0: Math.max(0, Math.round(region.box.x - mx)),
    y0: Math.max(0, Math.round(region.box.y - my)),
    x1: Math.min(gray.cols, Math.round(region.box.x + region.box.width + mx)),
    y1: Math.min(gray.rows, Math.round(region.box.y + region.box.height + my)),
  };
}

/**
 * True when `small` is a line of much smaller text just above, below or inside the plate `big`: its centre within
 * `above` times big's height over it (a state's name sits up to about one height above a US number row) or 1.6 below.
 */
function isSmallPrintOf(small: Box, big: Box, above = 0.6): boolean {
  if (small.height > 0.7 * big.height) return false;
  const cx = small.x + small.width / 2;
  const cy = small.y + small.height / 2;
  return cx > big.x && cx < big.x + big.width && cy > big.y - big.height * above && cy < big.y + big.height * 1.6;
}

function scaleBox(b: Box, f: number): Box {
  return { x: b.x * f, y: b.y * f, width: b.width * f, height: b.height * f };
}

/** The plate's box in frame coordinates: the characters' box grown to the plate's usual margins. */
function plateBox(line: CharLine, x0: number, y0: number, scale: number, gray: Mat): Box {
  const ch = line.charHeight;
  const bx = line.x - ch * 0.5;
  const by = line.y - ch * 0.3;
  const bw = line.w + ch * 1.0;
  const bh = line.h + ch * 0.6;
  const x = Math.max(0, x0 + bx / scale);
  const y = Math.max(0, y0 + by / scale);
  return {
    x: Math.round(x),
    y: Math.round(y),
    width: Math.round(Math.min(gray.cols - x, bw / scale)),
    height: Math.round(Math.min(gray.rows - y, bh / scale)),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
