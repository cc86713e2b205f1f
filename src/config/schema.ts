import { z } from 'zod';

/**
 * The one schema of the unit's configuration. The TypeScript type, the defaults, the bounds, the documentation
 * printed by `alpr-edge config docs` and the environment-variable overrides all come from here.
 * Every object is strict: a key the schema does not know is an error, never silently ignored.
 */

const unit = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, "_", "." and "-", 1-64 characters')
      .default('unit-01')
      .describe('Identifier of this unit; stored with every read and used in MQTT topics.'),
    agency: z.string().max(128).default('').describe('Agency that operates the unit (ORI or name).'),
  })
  .describe('Identity of the unit.');

const data = z
  .strictObject({
    dir: z.string().min(1).default('./data').describe('Folder for the database and images (created with mode 0700).'),
  })
  .describe('Where the unit keeps its state.');

const log = z
  .strictObject({
    level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('Least severe level written to stdout (JSON lines).'),
  })
  .describe('Logging.');

const ocr = z
  .strictObject({
    workers: z.int().min(1).max(8).default(1).describe('Tesseract workers (worker threads) in the OCR pool.'),
    tessdata: z
      .string()
      .default('')
      .describe(
        'Folder holding eng.traineddata (or eng.traineddata.gz). Empty: the copy shipped in the npm package @tesseract.js-data/eng.',
      ),
    minConfidence: z
      .number()
      .min(0)
      .max(100)
      .default(45)
      .describe('Plates read with a lower confidence (0-100) are dropped as garbage.'),
    timeoutMs: z
      .int()
      .min(100)
      .max(120_000)
      .default(10_000)
      .describe('Longest one OCR job may take (ms); a worker that takes longer is terminated and replaced.'),
    glyphWeight: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe(
        "Weight of the per-glyph classifier (models/glyph-mlp.json) blended with tesseract's reading of each character; 0 turns it off.",
      ),
  })
  .describe('Optical character recognition (tesseract.js, offline).');

const detector = z
  .strictObject({
    maxWidth: z
      .int()
      .min(320)
      .max(4096)
      .default(960)
      .describe(
        'Frames wider than this are scaled down before plate finding (pixels); regions found are then read at full resolution.',
      ),
    minCharHeight: z
      .int()
      .min(6)
      .max(200)
      .default(12)
      .describe('Smallest character height searched for, in pixels of the scaled frame.'),
    maxCandidates: z
      .int()
      .min(1)
      .max(64)
      .default(12)
      .describe('Most candidate regions per frame handed to OCR.'),
    cascade: z
      .boolean()
      .default(false)
      .describe(
        "Also use OpenCV's plate cascade (haarcascade_russian_plate_number) as a candidate generator: finds some plates the character grouping misses, at 100-200 ms per 1080p frame.",
      ),
  })
  .describe('Finding plates in a frame (OpenCV).');

const recognition = z
  .strictObject({
    country: z
      .enum(['us', 'eu', 'br'])
      .default('us')
      .describe('Plate formats used to rank candidate texts (never to invent text).'),
    topN: z.int().min(1).max(50).default(10).describe('Candidate texts kept per plate.'),
    maxImagePixels: z
      .int()
      .min(1)
      .max(400_000_000)
      .default(50_000_000)
      .describe('Images with more pixels than this are refused (protects memory).'),
    maxImageBytes: z
      .int()
      .min(1)
      .max(2_000_000_000)
      .default(64 * 1024 * 1024)
      .describe('Image files larger than this are refused (bytes).'),
    ocr: ocr.prefault({}),
    detector: detector.prefault({}),
  })
  .describe('Plate finding and reading.');

export const configSchema = z
  .strictObject({
    unit: unit.prefault({}),
    data: data.prefault({}),
    log: log.prefault({}),
    recognition: recognition.prefault({}),
  })
  .describe('alpr-edge unit configuration.');

export type Config = z.infer<typeof configSchema>;
export type RecognitionConfig = Config['recognition'];
export type Country = RecognitionConfig['country'];
