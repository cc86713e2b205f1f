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
import { recognitionSchema, type Country, type RecognitionConfig } from '../recognition/config.js';

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
    recognition: recognitionSchema.prefault({}),
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
export type { CameraConfig, Country, RecognitionConfig, GpsConfig, HotlistDefinition, HotlistsConfig };
export { cameraSchema } from '../camera/config.js';
