import { readFileSync } from 'node:fs';
import type { Mat } from './cv.js';
import { GLYPH_FEATURES, glyphFeatures } from './glyph-features.js';

/** Weights of a one-hidden-layer perceptron, as written by scripts/train-glyphs.ts. */
export interface GlyphModelFile {
  classes: string;
  inputs: number;
  hidden: number;
  mean: number[];
  std: number[];
  w1: number[];
  b1: number[];
  w2: number[];
  b2: number[];
  trainedOn: string;
  heldOutAccuracy: number;
}

/**
 * A small per-glyph classifier trained only on characters rendered from open fonts by scripts/train-glyphs.ts.
 * It gives a second opinion on each glyph the segmentation isolated; the recognizer blends it with tesseract's.
 */
export class GlyphClassifier {
  private readonly w1: Float32Array;
  private readonly w2: Float32Array;

  constructor(readonly model: GlyphModelFile) {
    if (model.inputs !== GLYPH_FEATURES) {
      throw new Error(`glyph model expects ${model.inputs} features, this build makes ${GLYPH_FEATURES}: retrain it`);
    }
    this.w1 = Float32Array.from(model.w1);
    this.w2 = Float32Array.from(model.w2);
  }

  static load(file: string): GlyphClassifier {
    return new GlyphClassifier(JSON.parse(readFileSync(file, 'utf8')) as GlyphModelFile);
  }

  get classes(): string {
    return this.model.classes;
  }

  /** Probability of each class (same order as `classes`) for a feature vector. */
  predictFeatures(features: Float32Array): Float32Array {
    const { inputs, hidden, mean, std, b1, b2, classes } = this.model;
    const x = new Float32Array(inputs);
    for (let i = 0; i < inputs; i++) x[i] = (features[i]! - mean[i]!) / std[i]!;
    const h = new Float32Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let s = b1[j]!;
      for (let i = 0; i < inputs; i++) s += x[i]! * this.w1[i * hidden + j]!;
      h[j] = s > 0 ? s : 0;
    }
    const n = classes.length;
    const out = new Float32Array(n);
    let max = -Infinity;
    for (let c = 0; c < n; c++) {
      let s = b2[c]!;
      for (let j = 0; j < hidden; j++) s += h[j]! * this.w2[j * n + c]!;
      out[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < n; c++) sum += out[c] = Math.exp(out[c]! - max);
    for (let c = 0; c < n; c++) out[c]! /= sum;
    return out;
  }

  /** Probability of each class for a glyph image (ink 255 on 0, cropped to the glyph). */
  predict(ink: Mat): Map<string, number> {
    const p = this.predictFeatures(glyphFeatures(ink));
    const out = new Map<string, number>();
    [...this.classes].forEach((ch, i) => out.set(ch, p[i]!));
    return out;
  }
}
