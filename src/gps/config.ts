import { z } from 'zod';

/** The `gps` slice of the unit's configuration (composed in src/config/schema.ts). */

export const gpsSchema = z
  .strictObject({
    source: z.enum(['none', 'fixed', 'serial']).default('none').describe('Where positions come from: an NMEA receiver on a serial port, a fixed position (pole units), or none.'),
    latitude: z.number().min(-90).max(90).optional().describe('Fixed position: latitude (decimal degrees, WGS84).'),
    longitude: z.number().min(-180).max(180).optional().describe('Fixed position: longitude (decimal degrees, WGS84).'),
    heading: z.number().min(0).max(360).optional().describe('Fixed position: direction the camera faces (degrees).'),
    port: z.string().default('').describe('Serial device of the NMEA receiver (e.g. /dev/ttyACM0).'),
    baudRate: z.int().min(300).max(921_600).default(9600).describe('Baud rate of the NMEA receiver.'),
    maxAgeMs: z.int().min(100).max(600_000).default(3000).describe('A read more than this far in time from the nearest fix is marked as having no valid position.'),
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

export type GpsConfig = z.infer<typeof gpsSchema>;
