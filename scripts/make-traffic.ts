/**
 * Generates synthetic traffic for the whole-unit test and `npm run bench:unit`: cars, each carrying one of the
 * plate crops in test-fixtures/crops, drive across a drawn road scene, one car after another with empty frames
 * between them. Written as numbered JPEG frames and/or an MJPG video, with a manifest of which car is in which
 * frames (the ground truth).
 *
 *   node dist/scripts/make-traffic.js --out DIR [--width 1920] [--height 1080] [--fps 10] [--frames-per-car 12]
 *        [--gap 6] [--country us] [--repeat 1] [--jpeg] [--video]
 *
 * It runs in its own process: OpenCV can be loaded by only one JavaScript context per process, and the unit's
 * recognition worker is that context in the process that runs the unit.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cv, type Mat } from '../src/recognition/cv.js';
import { packageRoot } from '../src/util/paths.js';
import { scriptArgs } from './script-args.js';

export interface TrafficManifest {
  width: number;
  height: number;
  fps: number;
  frames: number;
  video: string | null;
  jpegDir: string | null;
  cars: Array<{ text: string; firstFrame: number; lastFrame: number }>;
}

const { values } = scriptArgs(import.meta.url, {
  options: {
    out: { type: 'string' },
    width: { type: 'string', default: '1920' },
    height: { type: 'string', default: '1080' },
    fps: { type: 'string', default: '10' },
    'frames-per-car': { type: 'string', default: '12' },
    gap: { type: 'string', default: '6' },
    country: { type: 'string', default: 'us' },
    repeat: { type: 'string', default: '1' },
    jpeg: { type: 'boolean', default: false },
    video: { type: 'boolean', default: false },
  },
});
if (!values.out) throw new Error('--out DIR is required');
const W = Number(values.width);
const H = Number(values.height);
const fps = Number(values.fps);
const perCar = Number(values['frames-per-car']);
const gap = Number(values.gap);
const out = path.resolve(values.out);
mkdirSync(out, { recursive: true });

const cropsDir = path.join(packageRoot(), 'test-fixtures', 'crops');
const crops = readdirSync(cropsDir)
  .filter((f) => f.startsWith(`${values.country}-`) && f.endsWith('.jpg'))
  .sort()
  .map((f) => ({ text: path.basename(f, '.jpg').split('-').at(-1)!, mat: cv.imread(path.join(cropsDir, f)) }));
if (crops.length === 0) throw new Error(`no ${values.country}-*.jpg crops in ${cropsDir}`);

/** A fixed road scene: sky, road, lane marks, a kerb. */
function scene(): Mat {
  const m = new cv.Mat(H, W, cv.CV_8UC3, [0, 0, 0]);
  const horizon = Math.round(H * 0.35);
  for (let y = 0; y < H; y += 4) {
    const c = y < horizon ? [200 - (y / horizon) * 60, 170 - (y / horizon) * 40, 140] : [90 + ((y - horizon) / H) * 40, 90 + ((y - horizon) / H) * 40, 95];
    m.drawRectangle(new cv.Point2(0, y), new cv.Point2(W - 1, y + 3), new cv.Vec3(c[0]!, c[1]!, c[2]!), -1);
  }
  for (let x = 0; x < W; x += Math.round(W / 8)) {
    m.drawRectangle(new cv.Point2(x, Math.round(H * 0.8)), new cv.Point2(x + Math.round(W / 16), Math.round(H * 0.81)), new cv.Vec3(230, 230, 230), -1);
  }
  m.drawRectangle(new cv.Point2(0, horizon), new cv.Point2(W - 1, horizon + Math.round(H * 0.02)), new cv.Vec3(120, 120, 120), -1);
  return m;
}

const background = scene();
const cars: TrafficManifest['cars'] = [];
const frames: Mat[] = [];
const repeat = Number(values.repeat);
let index = 0;
for (let r = 0; r < repeat; r++) {
  for (const crop of crops) {
    // empty road before each car
    for (let i = 0; i < gap; i++) frames.push(background);
    const first = frames.length;
    for (let i = 0; i < perCar; i++) {
      const f = background.copy();
      const t = perCar === 1 ? 0.5 : i / (perCar - 1);
      // the car comes closer as it crosses: the plate grows from 14% to 18% of the frame width
      const pw = Math.round(W * (0.14 + 0.04 * t));
      const ph = Math.round((pw * crop.mat.rows) / crop.mat.cols);
      const cx = Math.round(W * (0.2 + 0.6 * t));
      const cy = Math.round(H * (0.62 + 0.08 * t));
      const carW = Math.round(pw * 3.2);
      const carH = Math.round(ph * 3.4);
      const colour = [[40, 40, 160], [150, 90, 30], [60, 60, 60], [200, 200, 205]][index % 4]!;
      f.drawRectangle(
        new cv.Point2(Math.max(0, cx - carW / 2), Math.max(0, cy - carH * 0.7)),
        new cv.Point2(Math.min(W - 1, cx + carW / 2), Math.min(H - 1, cy + carH * 0.3)),
        new cv.Vec3(colour[0]!, colour[1]!, colour[2]!),
        -1,
      );
      const plate = crop.mat.resize(ph, pw);
      const x = Math.round(cx - pw / 2);
      const y = Math.round(cy - ph / 2);
      plate.copyTo(f.getRegion(new cv.Rect(x, y, pw, ph)));
      frames.push(f);
    }
    cars.push({ text: crop.text, firstFrame: first, lastFrame: frames.length - 1 });
    index++;
  }
}
for (let i = 0; i < gap; i++) frames.push(background);

let video: string | null = null;
if (values.video) {
  video = path.join(out, 'traffic.avi');
  const writer = new cv.VideoWriter(video, cv.VideoWriter.fourcc('MJPG'), fps, new cv.Size(W, H));
  for (const f of frames) writer.write(f);
  writer.release();
}
let jpegDir: string | null = null;
if (values.jpeg) {
  jpegDir = path.join(out, 'frames');
  mkdirSync(jpegDir, { recursive: true });
  frames.forEach((f, i) => writeFileSync(path.join(jpegDir!, `frame-${String(i).padStart(5, '0')}.jpg`), cv.imencode('.jpg', f, [cv.IMWRITE_JPEG_QUALITY, 90])));
}
const manifest: TrafficManifest = { width: W, height: H, fps, frames: frames.length, video, jpegDir, cars };
writeFileSync(path.join(out, 'traffic.json'), JSON.stringify(manifest, null, 2));
process.stdout.write(`${JSON.stringify({ frames: frames.length, cars: cars.length, video, jpegDir })}\n`);
