import { z } from 'zod';

/** The `grouping` and `pipeline` slices of the unit's configuration (composed by config/schema.ts). */

export const groupingSchema = z
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

export const pipelineSchema = z
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
