import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AccessLog } from '../access/access-log.js';
import { requirePrincipal } from '../access/session.js';
import { createCamera, type Camera } from '../camera/index.js';
import type { Frame } from '../camera/types.js';
import type { CameraConfig, Config, Country } from '../config/schema.js';
import { openStore } from '../store/open.js';
import { systemClock } from '../util/clock.js';
import { intOption, parse, UsageError } from './args.js';
import { CAMERA_LS_OPTIONS, CAMERA_SNAPSHOT_OPTIONS } from './commands.js';
import { usageOf } from './help.js';

/**
 * `alpr-edge camera ls` and `alpr-edge camera snapshot CAMERA --out FILE`: what a technician aiming a camera needs.
 * The snapshot takes one frame from the camera as the unit would, finds and reads its plates, and writes the frame
 * as a JPEG with each plate boxed and its width in pixels, so the technician sees whether plates are in view and
 * large enough (about 60 px wide or more). Nothing is stored as a read; the snapshot is in the access log.
 */
export async function cameraCommand(argv: string[], config: Config): Promise<number> {
  const sub = argv[0];
  if (sub === 'ls') return listCameras(argv.slice(1), config);
  if (sub === 'snapshot') return snapshot(argv.slice(1), config);
  throw new UsageError(`usage: ${usageOf('camera')}`);
}

function describeSource(c: CameraConfig): string {
  switch (c.type) {
    case 'replay':
      return `replay of ${c.source}`;
    case 'directory':
      return `folder ${c.path}`;
    case 'opencv':
      return `OpenCV ${String(c.source)}`;
    case 'gphoto2':
      return `libgphoto2 ${c.port || c.model || 'first camera found'}`;
  }
}

function listCameras(argv: string[], config: Config): number {
  const { values } = parse(argv, CAMERA_LS_OPTIONS);
  if (values.json) {
    for (const c of config.cameras) process.stdout.write(`${JSON.stringify({ id: c.id, name: c.name, type: c.type, enabled: c.enabled, source: describeSource(c) })}\n`);
    return 0;
  }
  if (config.cameras.length === 0) {
    process.stdout.write('no cameras configured (cameras: in the config file; see docs/configuration.md)\n');
    return 0;
  }
  for (const c of config.cameras) {
    process.stdout.write(`${c.id.padEnd(14)} ${c.type.padEnd(9)} ${c.enabled ? 'enabled ' : 'disabled'}  ${c.name ? `${c.name}: ` : ''}${describeSource(c)}\n`);
  }
  return 0;
}

/** Smallest plate width (pixels, full frame) that the reader handles well; narrower plates are flagged. */
const GOOD_PLATE_WIDTH = 60;

async function snapshot(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parse(argv, CAMERA_SNAPSHOT_OPTIONS);
  const id = positionals[0];
  if (id === undefined || positionals.length > 1) throw new UsageError(`usage: ${usageOf('camera')}`);
  const out = values.out;
  if (out === undefined) throw new UsageError('--out FILE is required: where the boxed snapshot (JPEG) is written');
  const camera = config.cameras.find((c) => c.id === id);
  if (!camera) {
    const known = config.cameras.map((c) => c.id).join(', ') || 'none';
    throw new UsageError(`no camera "${id}" in the config (cameras: ${known})`);
  }
  const timeoutMs = intOption(values.timeout, '--timeout', 1, 600) ?? 20;

  // a frame shows plates: only a signed-in user whose role may operate the unit takes one, and it is logged
  const { store, auditKey } = openStore(config, systemClock);
  let who;
  let accessLog;
  try {
    accessLog = new AccessLog(store.database, auditKey, systemClock);
    who = requirePrincipal(config, store.database, accessLog, 'unit.operate');
  } catch (err) {
    store.close();
    throw err;
  }

  let frame: Frame | undefined;
  let error: string | undefined;
  try {
    frame = camera.type === 'directory' ? newestFile(camera.path, id) : await firstFrame(camera, timeoutMs * 1000);
  } catch (err) {
    error = (err as Error).message;
  }
  const country: Country = camera.regionHint ?? config.recognition.country;
  let plates: Array<{ width: number; height: number; x: number; y: number; confidence: number; text: string }> = [];
  if (frame) {
    const { Recognizer } = await import('../recognition/recognizer.js');
    const { cv } = await import('../recognition/cv.js');
    const recognizer = await Recognizer.create(config.recognition);
    try {
      const mat = cv.imdecode(frame.image);
      const result = await recognizer.recognizeMat(mat, { country });
      plates = result.plates.map((p) => ({ ...p.box, confidence: p.confidence, text: p.text }));
      const thick = Math.max(2, Math.round(mat.cols / 640));
      for (const p of plates) {
        const color = p.width >= GOOD_PLATE_WIDTH ? new cv.Vec3(0, 200, 0) : new cv.Vec3(0, 140, 255);
        mat.drawRectangle(new cv.Rect(p.x, p.y, p.width, p.height), color, thick);
        mat.putText(`${p.text} ${p.width}px`, new cv.Point2(p.x, Math.max(16, p.y - 6)), cv.FONT_HERSHEY_SIMPLEX, Math.max(0.6, mat.cols / 1600), color, thick);
      }
      const jpeg = cv.imencode('.jpg', mat, [cv.IMWRITE_JPEG_QUALITY, 90]);
      // `--out -`: the JPEG on stdout, so the file is the caller's (`alpr-edge camera snapshot front --out - > front.jpg`)
      if (out === '-') process.stdout.write(jpeg);
      else writeFileSync(out, jpeg, { mode: 0o600 });
    } catch (err) {
      error = `the frame could not be read or written: ${(err as Error).message}`;
    } finally {
      await recognizer.close();
    }
  }
  accessLog.append({
    user: who.user,
    agency: who.agency,
    role: who.role,
    action: 'camera snapshot',
    purpose: 'aiming a camera',
    query: { camera: id, out: out === '-' ? 'stdout' : path.resolve(out) },
    result: error ? { error } : { plates: plates.length, origin: frame?.origin },
    outcome: error ? 'failed' : 'ok',
  });
  store.close();
  if (error) {
    process.stderr.write(`alpr-edge camera snapshot: ${id}: ${error}\n`);
    return 1;
  }
  // the report goes to stderr when the picture itself goes to stdout
  const say = (line: string) => (out === '-' ? process.stderr : process.stdout).write(`${line}\n`);
  say(`${id}: one frame (${frame!.origin}) written to ${out === '-' ? 'stdout' : out} with ${plates.length} plate(s) boxed`);
  for (const [i, p] of plates.entries()) {
    const note = p.width >= GOOD_PLATE_WIDTH ? 'large enough' : `too small: aim or zoom so plates are at least ${GOOD_PLATE_WIDTH} px wide`;
    say(`  plate ${i + 1}: ${p.width}x${p.height} px at ${p.x},${p.y}, read at ${p.confidence.toFixed(0)}%: ${note}`);
  }
  if (plates.length === 0) say('  no plate found: is a plate in view, lit and in focus? See the picture.');
  return 0;
}

/** Starts the camera as the unit would and takes the first frame it offers; stops it again. */
async function firstFrame(config: CameraConfig, timeoutMs: number): Promise<Frame> {
  // the ledger is the directory camera's; no other camera uses it
  const ledger = { isFileDone: () => false, markFileDone: () => undefined };
  const camera: Camera = await createCamera(config, { ledger, clock: systemClock });
  let problem = '';
  try {
    return await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs / 1000} s${problem ? ` (${problem})` : ''}`)), timeoutMs);
      void camera
        .start({
          offer: async (frame) => {
            clearTimeout(timer);
            frame.settle?.('processed');
            resolve(frame);
          },
          report: (event) => {
            if (event.kind === 'disconnected' || event.kind === 'error') problem = event.error;
            if (event.kind === 'finished') {
              clearTimeout(timer);
              reject(new Error(`the camera finished without a frame${problem ? ` (${problem})` : ''}`));
            }
          },
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          reject(err as Error);
        });
    });
  } finally {
    await camera.stop();
  }
}

/** A folder camera: the newest image in its folder, left where it is (the unit still processes it). */
function newestFile(folder: string, id: string): Frame {
  let best: { name: string; mtimeMs: number } | undefined;
  for (const name of readdirSync(folder)) {
    if (!/\.(jpe?g|png)$/i.test(name)) continue;
    const st = statSync(path.join(folder, name));
    if (st.isFile() && (!best || st.mtimeMs > best.mtimeMs)) best = { name, mtimeMs: st.mtimeMs };
  }
  if (!best) throw new Error(`no image in ${folder} yet: let the camera upload one`);
  const file = path.join(folder, best.name);
  return { cameraId: id, seq: 1, capturedAt: best.mtimeMs, image: readFileSync(file), origin: file };
}
