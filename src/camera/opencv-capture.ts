/**
 * The capture process of the OpenCV camera and the video file reader (opencv-protocol.ts has the protocol). It
 * opens one source with VideoCapture, reads it, encodes frames to JPEG and writes them on fd 3. Started by the
 * parent with the request in its environment; never imported.
 *
 * Live mode reads without pause (a stream that is not drained falls behind), paces a video file at its own frame
 * rate, and sends at most maxFps frames; a frame that finds the previous one still in the pipe is dropped, so a slow
 * parent costs frames, not memory. Pull mode reads one frame per request byte on stdin.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Mat } from '../recognition/cv.js';
import {
  CAPTURE_ENV,
  CaptureExit,
  encodeRecord,
  PULL_REQUEST,
  RecordKind,
  sourceKind,
  sourceLabel,
  type CaptureOpened,
  type CaptureRequest,
} from './opencv-protocol.js';
import { RateLimiter } from './types.js';
import { systemClock } from '../util/clock.js';

/** This capture program runs in a process of its own, on the unit's real clock (the one every frame time comes from). */
const clock = systemClock;

function readRequest(): CaptureRequest {
  const text = process.env[CAPTURE_ENV];
  if (!text) {
    process.stderr.write(`opencv-capture: started without ${CAPTURE_ENV}; the OpenCV camera starts it\n`);
    process.exit(2);
  }
  return JSON.parse(text) as CaptureRequest;
}

const request = readRequest();
const kind = sourceKind(request.source);
const label = sourceLabel(request.source);

const out = new net.Socket({ fd: 3, readable: false, writable: true });
// the parent has gone: nobody is left to read frames
out.on('error', () => process.exit(CaptureExit.Stopped));
process.stdin.on('error', () => process.exit(CaptureExit.Stopped));

let exiting = false;
function exitWith(code: CaptureExit, last?: { kind: RecordKind.End | RecordKind.Fail; text: string }): void {
  if (exiting) return;
  exiting = true;
  setTimeout(() => process.exit(code), 2000).unref();
  if (last) {
    const payload = JSON.stringify(last.kind === RecordKind.End ? { reason: last.text } : { message: last.text });
    out.end(encodeRecord(last.kind, Buffer.from(payload)), () => process.exit(code));
  } else {
    out.end(() => process.exit(code));
  }
}

const { cv } = await import('../recognition/cv.js');
out.write(encodeRecord(RecordKind.Opening, Buffer.alloc(0)));

const useV4l2 = kind === 'device' && process.platform === 'linux';
const api = kind === 'device' ? (useV4l2 ? cv.CAP_V4L2 : cv.CAP_ANY) : cv.CAP_FFMPEG;
const backend = kind === 'device' ? (useV4l2 ? 'V4L2' : 'default backend') : 'FFmpeg';

type Capture = InstanceType<typeof cv.VideoCapture>;

function open(): Capture | null {
  try {
    const cap = new cv.VideoCapture(request.source, api);
    if (request.width > 0) cap.set(cv.CAP_PROP_FRAME_WIDTH, request.width);
    if (request.height > 0) cap.set(cv.CAP_PROP_FRAME_HEIGHT, request.height);
    return cap;
  } catch {
    exitWith(CaptureExit.CannotOpen, { kind: RecordKind.Fail, text: whyNotOpened() });
    return null;
  }
}

/** VideoCapture says only that it could not open the source; say what was tried and what can be seen. */
function whyNotOpened(): string {
  const source = request.source;
  if (kind === 'device') {
    const device = typeof source === 'number' ? `/dev/video${source}` : source;
    if (process.platform === 'linux' && !existsSync(device)) return `cannot open ${label}: no such device`;
    try {
      if (process.platform === 'linux') accessSync(device, constants.R_OK | constants.W_OK);
    } catch {
      return `cannot open ${label}: permission denied (is the service user in the "video" group?)`;
    }
    return `cannot open ${label} through ${backend}: busy with another program, or not a video capture device`;
  }
  if (kind === 'file') {
    if (!existsSync(String(source))) return `cannot open ${label}: no such file`;
    if (statSync(String(source)).isDirectory()) return `cannot open ${label}: it is a folder, not a video file`;
    return `cannot open ${label}: ${backend} cannot read it as video (unknown container or codec, or no permission)`;
  }
  return `cannot open ${label} through ${backend}: could not connect, or found no video there`;
}

function opened(cap: Capture): CaptureOpened {
  const fps = cap.get(cv.CAP_PROP_FPS);
  const frameCount = kind === 'file' ? cap.get(cv.CAP_PROP_FRAME_COUNT) : 0;
  return {
    width: cap.get(cv.CAP_PROP_FRAME_WIDTH),
    height: cap.get(cv.CAP_PROP_FRAME_HEIGHT),
    // streams often announce a timebase (90000) or nothing as their rate
    fps: Number.isFinite(fps) && fps > 0 && fps <= 1000 ? Math.round(fps * 100) / 100 : 0,
    frameCount: Number.isFinite(frameCount) && frameCount > 0 ? Math.round(frameCount) : 0,
    backend,
  };
}

/** The next frame, or null at the end of the source. */
function read(cap: Capture): Mat | null {
  const mat = cap.read();
  return mat.empty ? null : mat;
}

function positionMs(cap: Capture): number {
  if (kind !== 'file') return -1;
  const ms = cap.get(cv.CAP_PROP_POS_MSEC);
  return Number.isFinite(ms) && ms >= 0 ? ms : -1;
}

function encode(mat: Mat): Buffer {
  return cv.imencode('.jpg', mat, [cv.IMWRITE_JPEG_QUALITY, request.jpegQuality]);
}

function ended(): void {
  const reason = kind === 'file' ? `end of ${label}` : `${label} ended or could not be read (no frame from ${backend})`;
  exitWith(CaptureExit.Ended, { kind: RecordKind.End, text: reason });
}

function readFailed(err: unknown): void {
  const text = err instanceof Error ? err.message : String(err);
  exitWith(CaptureExit.ReadFailed, { kind: RecordKind.Fail, text: `reading ${label} failed: ${text}` });
}

async function run(cap: Capture): Promise<void> {
  out.write(encodeRecord(RecordKind.Opened, Buffer.from(JSON.stringify(opened(cap)))));
  process.stdin.on('end', () => exitWith(CaptureExit.Stopped));
  if (request.mode === 'pull') pull(cap);
  else await live(cap);
}

function pull(cap: Capture): void {
  let index = 0;
  process.stdin.on('data', (chunk: Buffer) => {
    for (const byte of chunk) {
      if (byte !== PULL_REQUEST || exiting) continue;
      try {
        const mat = read(cap);
        if (!mat) return ended();
        const position = positionMs(cap);
        out.write(encodeRecord(RecordKind.Frame, encode(mat), { capturedAt: clock(), positionMs: position, index }));
        mat.release();
        index++;
      } catch (err) {
        return readFailed(err);
      }
    }
  });
}

const ALIVE_EVERY_MS = 250;

async function live(cap: Capture): Promise<void> {
  process.stdin.resume();
  const limiter = new RateLimiter(request.maxFps);
  let index = 0;
  let dropped = 0;
  let lastSentAt = clock();
  const startedAt = clock();
  while (!exiting) {
    try {
      const mat = read(cap);
      if (!mat) {
        ended();
        break;
      }
      let capturedAt = clock();
      const position = positionMs(cap);
      if (kind === 'file' && position >= 0 && startedAt + position > capturedAt) {
        // a file plays at its own rate, as the camera that recorded it did
        await sleep(startedAt + position - capturedAt);
        capturedAt = clock();
      }
      if (limiter.admit(capturedAt)) {
        if (out.writableLength > 0) {
          dropped++;
        } else {
          out.write(encodeRecord(RecordKind.Frame, encode(mat), { capturedAt, positionMs: position, index, dropped }));
          lastSentAt = capturedAt;
        }
      }
      // a low maxFps must not look like a stalled source to the parent
      if (capturedAt - lastSentAt >= ALIVE_EVERY_MS) {
        out.write(encodeRecord(RecordKind.Alive, Buffer.alloc(0), { capturedAt, index, dropped }));
        lastSentAt = capturedAt;
      }
      mat.release();
      index++;
    } catch (err) {
      readFailed(err);
      break;
    }
    // VideoCapture.read() blocks the loop: let the pipe flush and stdin's end be seen between frames
    await nextTurn();
  }
}

const cap = open();
if (cap) await run(cap);
