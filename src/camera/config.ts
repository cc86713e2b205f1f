import { z } from 'zod';
import { identifier, uniqueBy } from '../util/schema.js';

/** The `cameras` slice of the unit's configuration (composed in src/config/schema.ts): one entry per camera, by type. */

/** Settings every camera has, whatever its type. */
const cameraCommon = {
  id: identifier.describe('Identifier of the camera; stored with every read it makes. Unique on the unit.'),
  name: z.string().max(128).default('').describe('Human name of the camera (e.g. "front left").'),
  enabled: z.boolean().default(true).describe('A disabled camera is configured but not started.'),
  direction: z.string().max(64).default('').describe('Direction of travel or lane the camera watches (e.g. "northbound lane 2", "front").'),
  mounting: z.enum(['fixed', 'mobile']).default('mobile').describe('Fixed (pole, gantry) or mobile (vehicle).'),
  regionHint: z.enum(['us', 'eu', 'br']).optional().describe('Plate layouts for this camera; unset: recognition.country.'),
  maxFps: z.number().min(0.01).max(120).default(10).describe('Most frames per second taken from this camera; frames beyond the rate are skipped at capture.'),
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
  pattern: z.string().default('*').describe('For a folder: only file names matching this pattern ("*" any characters, "?" one), e.g. "lane2-*.jpg".'),
  fps: z.number().min(0.01).max(240).default(2).describe('Frames per second replayed.'),
  loop: z.boolean().default(false).describe('Start again from the first frame after the last one.'),
});

const directoryCamera = z.strictObject({
  type: z.literal('directory').describe('Watches a folder into which a fixed camera drops JPEGs (e.g. by FTP).'),
  ...cameraCommon,
  path: z.string().min(1).describe('Folder to watch.'),
  afterProcessing: z.enum(['keep', 'move', 'delete']).default('keep').describe('What happens to a file once it is processed (each file is processed once, across restarts).'),
  moveTo: z.string().default('').describe('Folder processed files are moved to (afterProcessing: move).'),
  settleMs: z.int().min(0).max(600_000).default(500).describe('A file must keep the same size for this long before it is read (an upload may be in progress).'),
  pollMs: z.int().min(50).max(60_000).default(1000).describe('How often the folder is rescanned (ms).'),
});

const opencvCamera = z.strictObject({
  type: z.literal('opencv').describe('V4L2 device, RTSP/HTTP stream or video file through OpenCV VideoCapture.'),
  ...cameraCommon,
  source: z.union([z.string().min(1), z.int().min(0)]).describe('Device (/dev/video0 or its number), stream URL (rtsp://, http://) or video file.'),
  width: z.int().min(0).max(8192).default(0).describe('Requested frame width (0: the device default).'),
  height: z.int().min(0).max(8192).default(0).describe('Requested frame height (0: the device default).'),
  stallTimeoutMs: z.int().min(500).max(600_000).default(10_000).describe('A stream that gives no frame for this long is closed and reopened.'),
  reconnectMinMs: z.int().min(10).max(600_000).default(1000).describe('First wait before reconnecting (ms).'),
  reconnectMaxMs: z.int().min(10).max(3_600_000).default(30_000).describe('Longest wait between reconnects (ms).'),
  jpegQuality: z.int().min(10).max(100).default(90).describe('Quality of the JPEG each frame is kept as.'),
});

const gphoto2Camera = z.strictObject({
  type: z.literal('gphoto2').describe('USB/PTP still camera through libgphoto2.'),
  ...cameraCommon,
  model: z.string().default('').describe('Camera model as libgphoto2 names it (e.g. "Canon EOS 550D"); empty: the first camera found.'),
  port: z.string().default('').describe('libgphoto2 port (e.g. "usb:001,004", or "disk:/path" for the Directory Browse camera); empty: any.'),
  trigger: z
    .enum(['auto', 'unit', 'camera'])
    .default('auto')
    .describe(
      '"unit": the unit triggers each shot; "camera": the camera shoots on its own (hardware trigger) and new pictures are downloaded; "auto": "camera" for disk: ports, else "unit". Pictures are deleted from the camera once downloaded.',
    ),
  intervalMs: z.int().min(0).max(3_600_000).default(0).describe('Time between captures (ms); 0: as fast as the camera allows (bounded by maxFps).'),
  reconnectMinMs: z.int().min(10).max(600_000).default(1000).describe('First wait before reconnecting (ms).'),
  reconnectMaxMs: z.int().min(10).max(3_600_000).default(30_000).describe('Longest wait between reconnects (ms).'),
});

export const cameraSchema = z.discriminatedUnion('type', [replayCamera, directoryCamera, opencvCamera, gphoto2Camera]);

/** The cameras of the unit: ids unique, a folder to move processed files to where they are moved. */
export const camerasSchema = z
  .array(cameraSchema)
  .max(16)
  .default([])
  .superRefine(uniqueBy('id', 'camera id'))
  .superRefine((cams, ctx) => {
    cams.forEach((c, i) => {
      if (c.type === 'directory' && c.afterProcessing === 'move' && c.moveTo === '') {
        ctx.addIssue({ code: 'custom', path: [i, 'moveTo'], message: 'required when afterProcessing is "move"' });
      }
    });
  })
  .describe('The cameras of the unit (several at once).');

export type CameraConfig = z.infer<typeof cameraSchema>;
