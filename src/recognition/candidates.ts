import type { Country } from '../config/schema.js';
import { LENGTH_BOUNDS, matchFormat } from './formats.js';

/** What the OCR saw at one character position: its choices with probabilities (0-1), best first. */
export interface CharReading {
  choices: { ch: string; p: number }[];
  /** Horizontal extent in the image the OCR read, where known. */
  x0?: number;
  x1?: number;
}

/**
 * Aligns OCR characters to the glyphs the segmentation found: two characters read inside one narrow glyph are one
 * character read twice (the LSTM's habit on wide glyphs); the more confident is kept and the other becomes its
 * alternate. A wide glyph (two touching characters) may keep two.
 */
export function alignToGlyphs(chars: CharReading[], glyphs: { x0: number; x1: number }[], charHeight: number): CharReading[] {
  if (glyphs.length === 0 || chars.some((c) => c.x0 === undefined || c.x1 === undefined)) return chars;
  const byGlyph = new Map<number, CharReading[]>();
  const out: { at: number; reading: CharReading }[] = [];
  chars.forEach((c, i) => {
    const cx = (c.x0! + c.x1!) / 2;
    let best = -1;
    let bestDist = Infinity;
    glyphs.forEach((g, gi) => {
      const d = cx < g.x0 ? g.x0 - cx : cx > g.x1 ? cx - g.x1 : 0;
      if (d < bestDist) {
        bestDist = d;
        best = gi;
      }
    });
    if (best < 0 || bestDist > charHeight * 0.3) {
      out.push({ at: i, reading: c });
      return;
    }
    const list = byGlyph.get(best) ?? [];
    list.push(c);
    byGlyph.set(best, list);
  });
  for (const [gi, list] of byGlyph) {
    const g = glyphs[gi]!;
    const keep = g.x1 - g.x0 > charHeight * 0.95 ? 2 : 1;
    if (list.length <= keep) {
      for (const c of list) out.push({ at: chars.indexOf(c), reading: c });
      continue;
    }
    const ranked = [...list].sort((a, b) => b.choices[0]!.p - a.choices[0]!.p).slice(0, keep);
    for (const main of ranked) {
      const merged = new Map(main.choices.map((c) => [c.ch, c.p]));
      for (const other of list) {
        if (ranked.includes(other)) continue;
        for (const c of other.choices) merged.set(c.ch, Math.max(merged.get(c.ch) ?? 0, c.p * 0.5));
      }
      const choices = [...merged.entries()].map(([ch, p]) => ({ ch, p })).sort((a, b) => b.p - a.p);
      // The kept character stays first even when an alternate was scored higher by the other reading.
      const first = choices.findIndex((c) => c.ch === main.choices[0]!.ch);
      if (first > 0) choices.unshift(...choices.splice(first, 1));
      out.push({ at: chars.indexOf(main), reading: { ...main, choices } });
    }
  }
  return out.sort((a, b) => a.at - b.at).map((o) => o.reading);
}

export interface Candidate {
  text: string;
  /** 0-100 */
  confidence: number;
  region?: string;
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
const FORMAT_BONUS = 4;
const NO_FORMAT_FACTOR = 0.6;

/** Per-position choices, OCR's own plus confusion alternates, normalised to sum to at most 1. */
export function expandPosition(reading: CharReading): { ch: string; p: number }[] {
  const out = new Map<string, number>();
  for (const c of reading.choices) out.set(c.ch, Math.max(out.get(c.ch) ?? 0, c.p));
  const best = reading.choices[0];
  if (best) {
    const doubt = Math.max(ALTERNATE_FLOOR, 1 - best.p);
    for (const alt of confusableWith(best.ch)) {
      if (!out.has(alt)) out.set(alt, doubt * ALTERNATE_WEIGHT);
    }
  }
  return [...out.entries()].map(([ch, p]) => ({ ch, p: Math.min(1, Math.max(1e-4, p)) })).sort((a, b) => b.p - a.p);
}

/**
 * Ranked top-N texts for one plate. A beam search over the positions (OCR choices and confusion alternates),
 * then the region's layouts rank the survivors: a text that fits a layout is raised, one that fits none lowered.
 */
export function rankCandidates(readings: CharReading[], country: Country, topN: number): Candidate[] {
  const bounds = LENGTH_BOUNDS[country];
  if (readings.length === 0) return [];
  const positions = readings.map(expandPosition);
  const beamWidth = Math.max(64, topN * 8);
  let beam: { text: string; logp: number }[] = [{ text: '', logp: 0 }];
  for (const choices of positions) {
    const next: { text: string; logp: number }[] = [];
    for (const partial of beam) {
      for (const c of choices) next.push({ text: partial.text + c.ch, logp: partial.logp + Math.log(c.p) });
    }
    next.sort((a, b) => b.logp - a.logp);
    beam = next.slice(0, beamWidth);
  }
  const scored = beam
    .filter((b) => b.text.length >= bounds.min && b.text.length <= bounds.max)
    .map((b) => {
      const format = matchFormat(b.text, country);
      const meanP = Math.exp(b.logp / b.text.length);
      const score = meanP * (format ? FORMAT_BONUS : NO_FORMAT_FACTOR);
      return { text: b.text, score, meanP, region: format?.region };
    })
    .sort((a, b) => b.score - a.score);
  return scored.slice(0, topN).map((s) => ({
    text: s.text,
    // The shown confidence is the OCR's mean character probability, lowered when the text fits no layout.
    confidence: round1(100 * s.meanP * (s.region ? 1 : NO_FORMAT_FACTOR)),
    ...(s.region ? { region: s.region } : {}),
  }));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
