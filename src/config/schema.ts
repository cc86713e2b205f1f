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
import { groupingSchema, pipelineSchema } from '../pipeline/config.js';
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

export const configSchema = z
  .strictObject({
    unit: unit.prefault({}),
    data: data.prefault({}),
    log: log.prefault({}),
    recognition: recognitionSchema.prefault({}),
    cameras: camerasSchema,
    gps: gpsSchema.prefault({}),
    store: storeSchema.prefault({}),
    grouping: groupingSchema.prefault({}),
    pipeline: pipelineSchema.prefault({}),
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
