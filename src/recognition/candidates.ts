import type { Country } from './config.js';
import { FORMATS, fitsClass, fitsTemplate, LENGTH_BOUNDS, matchFormat, plateSpelling, US_STATE_FORMATS } from './formats.js';

/** What the OCR saw at one character position: its choices with probabilities (0-1), best first. */
export interface CharReading {
  choices: { ch: string; p: number }[];
  /** Horizontal extent in the image the OCR read, where known. */
  x0?: number;
  x1?: number;
}

export interface Candidate {
  text: string;
  /** 0-100 */
  confidence: number;
  region?: string;
}

/**
 * Aligns OCR characters to the glyphs the segmentation found, one list per glyph. Each character goes to the glyph
 * it overlaps most. Two characters read inside one narrow glyph are one character read twice (the LSTM's habit on
 * wide glyphs): the more confident is kept and the other becomes its alternate; a wide glyph (two touching
 * characters) may keep two. A glyph left with no character was missed by the line reading (it was swallowed into a
 * neighbour's character) and is read again on its own by the caller.
 */
export function alignToGlyphs(
  chars: CharReading[],
  glyphs: { x0: number; x1: number }[],
  charHeight: number,
): CharReading[][] | undefined {
  if (glyphs.length === 0 || chars.some((c) => c.x0 === undefined || c.x1 === undefined)) return undefined;
  const perGlyph: CharReading[][] = glyphs.map(() => []);
  for (const c of chars) {
    let best = -1;
    let bestOverlap = 0;
    glyphs.forEach((g, gi) => {
      const overlap = Math.min(g.x1, c.x1!) - Math.max(g.x0, c.x0!);
      if (overlap > bestOverlap) {
        bestOverlap = overlap;
        best = gi;
      }
    });
    if (best >= 0) perGlyph[best]!.push(c);
  }
  return perGlyph.map((list, gi) => {
    const g = glyphs[gi]!;
    const keep = g.x1 - g.x0 > charHeight * 0.95 ? 2 : 1;
    if (list.length <= keep) return list;
    const ranked = [...list].sort((a, b) => b.choices[0]!.p - a.choices[0]!.p).slice(0, keep);
    return list
      .filter((c) => ranked.includes(c))
      .map((main) => {
        const merged = new Map(main.choices.map((c) => [c.ch, c.p]));
        for (const other of list) {
          if (ranked.includes(other)) continue;
          for (const c of other.choices) merged.set(c.ch, Math.max(merged.get(c.ch) ?? 0, c.p * 0.5));
        }
        const choices = [...merged.entries()].map(([ch, p]) => ({ ch, p })).sort((a, b) => b.p - a.p);
        // The kept character stays first even when the other reading scored an alternate higher.
        const first = choices.findIndex((c) => c.ch === main.choices[0]!.ch);
        if (first > 0) choices.unshift(...choices.splice(first, 1));
        return { ...main, choices };
      });
  });
}

/**
 * Blends tesseract's reading of one glyph with the glyph classifier's probabilities: weight 0 is tesseract alone,
 * 1 the classifier alone. The classifier's five most likely characters join the choices.
 */
export function blendReading(reading: CharReading, classifier: Map<string, number>, weight: number): CharReading {
  const tess = new Map(reading.choices.map((c) => [c.ch, c.p]));
  const top = [...classifier.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([ch]) => ch);
  const choices = [...new Set([...tess.keys(), ...top])]
    .map((ch) => ({ ch, p: (1 - weight) * (tess.get(ch) ?? 0) + weight * (classifier.get(ch) ?? 0) }))
    .sort((a, b) => b.p - a.p);
  return { ...reading, choices };
}

/**
 * Characters that OCR confuses on plates. Each group is symmetric: reading one of them makes the others plausible
 * alternates at that position.
 */
export const CONFUSION_GROUPS: readonly string[] = ['O0DQ', 'I1LT', 'B8', 'S5', 'Z2', 'G6', 'A4', 'U0V', 'E3', 'H4'];

const CONFUSABLE = new Map<string, string[]>();
for (const group of CONFUSION_GROUPS) {
  for (const ch of group) {
    const others = [...group].filter((o) => o !== ch);
    CONFUSABLE.set(ch, [...new Set([...(CONFUSABLE.get(ch) ?? []), ...others])]);
  }
}

export function confusableWith(ch: string): readonly string[] {
  return CONFUSABLE.get(ch) ?? [];
}

/** Probability mass given to a confusable alternate, relative to the doubt the OCR had about its choice. */
const ALTERNATE_WEIGHT = 0.6;
const ALTERNATE_FLOOR = 0.02;
/** Multiplier for a text that fits one of the region's layouts, and for one that fits none. */
/**
 * How much a layout counts, per country: Brazilian plates all have one of two layouts, European ones a few per
 * country, while American vanity plates may be any text.
 */
const LAYOUT_EVIDENCE: Record<Country, { bonus: number; none: number }> = {
  us: { bonus: 2.5, none: 0.8 },
  eu: { bonus: 4, none: 0.6 },
  br: { bonus: 4, none: 0.25 },
};

/**
 * Weight of a layout of the plate's own state (US_STATE_FORMATS), where its state was read: above the country's most
 * common layouts (1), so that a doubtful character takes its state's class, not so far above that a clear reading
 * of another layout (a vanity or specialty plate, an older issue) is overruled: the other reading must be about a
 * tenth as likely at that character for the state's layout to win.
 */
const STATE_LAYOUT_WEIGHT = 1.5;

/** Per-position choices, OCR's own plus confusion alternates. */
export function expandPosition(reading: CharReading): { ch: string; p: number }[] {
  const out = new Map<string, number>();
  for (const c of reading.choices) out.set(c.ch, Math.max(out.get(c.ch) ?? 0, c.p));
  const best = reading.choices[0];
  if (best) {
    const doubt = Math.max(ALTERNATE_FLOOR, 1 - best.p);
    // A confusable character is at least as likely as the OCR's doubt allows, even when the OCR listed it lower.
    for (const alt of confusableWith(best.ch)) out.set(alt, Math.max(out.get(alt) ?? 0, doubt * ALTERNATE_WEIGHT));
  }
  return [...out.entries()].map(([ch, p]) => ({ ch, p: Math.min(1, Math.max(1e-4, p)) })).sort((a, b) => b.p - a.p);
}

type Choices = { ch: string; p: number }[];

function beamSearch(positions: Choices[], width: number, prior = 0): { text: string; logp: number }[] {
  let beam: { text: string; logp: number }[] = [{ text: '', logp: prior }];
  for (const choices of positions) {
    const next: { text: string; logp: number }[] = [];
    for (const partial of beam) {
      for (const c of choices) next.push({ text: partial.text + c.ch, logp: partial.logp + Math.log(c.p) });
    }
    next.sort((a, b) => b.logp - a.logp);
    beam = next.slice(0, width);
  }
  return beam;
}

/**
 * Ranked top-N texts for one plate. Candidates come from a beam search over each position's choices (the OCR's
 * own and confusion alternates), from the same search restricted to each layout of the region (a letter where
 * the layout has a letter, a digit where it has a digit), and from dropping a doubtful first or last character
 * (a bolt, a sticker or a frame edge read as a character). Each is scored by its mean character probability,
 * raised by the prior of the layout it fits, lowered when it fits none. A US plate whose state was read (its two-letter
 * code) has its state's layouts searched too, weighted above the country's.
 */
export function rankCandidates(readings: CharReading[], country: Country, topN: number, state?: string): Candidate[] {
  const bounds = LENGTH_BOUNDS[country];
  if (readings.length === 0) return [];
  const positions = readings.map(expandPosition);
  const width = Math.max(64, topN * 8);
  const variants: { positions: Choices[]; prior: number }[] = [{ positions, prior: 0 }];
  if (positions.length > bounds.min) {
    const first = readings[0]!.choices[0]!.p;
    const last = readings[readings.length - 1]!.choices[0]!.p;
    variants.push({ positions: positions.slice(1), prior: Math.log(Math.max(0.02, 1 - first)) });
    variants.push({ positions: positions.slice(0, -1), prior: Math.log(Math.max(0.02, 1 - last)) });
  }
  const pool = new Map<string, number>();
  const add = (text: string, logp: number) => {
    if (text.length < bounds.min || text.length > bounds.max) return;
    if ((pool.get(text) ?? -Infinity) < logp) pool.set(text, logp);
  };
  const stateTemplates = country === 'us' && state ? (US_STATE_FORMATS[state] ?? []) : [];
  const generic = FORMATS[country].map((f) => f.template);
  const templates = [...generic, ...stateTemplates];
  for (const v of variants) {
    for (const b of beamSearch(v.positions, width, v.prior)) add(b.text, b.logp);
    for (const template of new Set(v.positions === positions ? templates : generic)) {
      if (template.length !== v.positions.length) continue;
      const constrained = v.positions.map((choices, i) => restrict(choices, template[i]!));
      if (constrained.some((c) => c.length === 0)) continue;
      for (const b of beamSearch(constrained, Math.max(8, topN * 2), v.prior)) add(b.text, b.logp);
    }
  }
  const scored = [...pool.entries()]
    .map(([text, logp]) => {
      const format = matchFormat(text, country);
      // Only a text of every character read: a state's short layouts are not a reason to drop one.
      const ownState = text.length === readings.length && stateTemplates.some((t) => fitsTemplate(text, t));
      const weight = ownState ? STATE_LAYOUT_WEIGHT : format?.weight;
      const region = ownState ? country : format?.region;
      const meanP = Math.exp(logp / text.length);
      const evidence = LAYOUT_EVIDENCE[country];
      const factor = weight !== undefined ? evidence.bonus * weight : evidence.none;
      return { text, score: meanP * factor, meanP, region };
    })
    .sort((a, b) => b.score - a.score);
  const texts = foldSpelling(scored, country);
  return texts.slice(0, topN).map((s) => ({
    text: s.text,
    // The shown confidence is the OCR's mean character probability, lowered when the text fits no layout.
    confidence: round1(100 * s.meanP * (s.region ? 1 : Math.min(1, LAYOUT_EVIDENCE[country].none))),
    ...(s.region ? { region: s.region } : {}),
  }));
}

/** Candidates whose texts are written as the country writes them (plateSpelling); two that then read the same are one. */
function foldSpelling<T extends { text: string }>(scored: T[], country: Country): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const s of scored) {
    const text = plateSpelling(s.text, country);
    if (seen.has(text)) continue;
    seen.add(text);
    out.push({ ...s, text });
  }
  return out;
}

/** The choices at one position that fit a layout class, with cross-class confusions (O for 0, 5 for S...). */
function restrict(choices: Choices, cls: string): Choices {
  const kept = choices.filter((c) => fitsClass(c.ch, cls));
  if (kept.length > 0) return kept;
  const best = choices[0];
  if (!best) return [];
  const doubt = Math.max(ALTERNATE_FLOOR, 1 - best.p);
  return confusableWith(best.ch)
    .filter((ch) => fitsClass(ch, cls))
    .map((ch) => ({ ch, p: doubt * ALTERNATE_WEIGHT }));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
