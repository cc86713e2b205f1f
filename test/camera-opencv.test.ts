import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpencvCamera, VideoFileReader, type OpencvCameraConfig } from '../src/camera/opencv.js';
import type { CameraEvent, Frame } from '../src/camera/types.js';
import { cameraSchema } from '../src/config/schema.js';
import { cv } from '../src/recognition/cv.js';
import { sniffImage } from '../src/recognition/image-header.js';
import { checkCameraContract, CollectingSink, expectStopBeforeRetry } from './camera-contract.js';

/**
 * What a user of an OpenCV camera notices, against real capture processes: a video file plays and finishes, a video
 * file is read frame by frame in order, an absent device or file is reported and retried without breaking start()
 * or stop(), and a real HTTP MJPEG stream that stalls or ends is reported and reopened, and its frames resume.
 *
 * The capture process runs from dist/: `npm run build` first.
 */

const WIDTH = 320;
const HEIGHT = 240;
const FRAMES = 30;
const FPS = 25;

let dir: string;
let video: string;

/** Frame i: blue level 8*i in the top left corner (so the order survives JPEG) and its number written on it. */
function syntheticFrame(i: number) {
  const mat = new cv.Mat(HEIGHT, WIDTH, cv.CV_8UC3, [8 * i, 90, 40]);
  mat.putText(String(i), new cv.Point2(40, 180), cv.FONT_HERSHEY_SIMPLEX, 4, new cv.Vec3(255, 255, 255), 6);
  return mat;
}

/** The frame number a JPEG made from syntheticFrame() carries. */
function frameNumber(jpeg: Buffer): number {
  return Math.round(cv.imdecode(jpeg).getRegion(new cv.Rect(0, 0, 24, 24)).mean().w / 8);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-opencv-'));
  video = path.join(dir, 'clip.avi');
  const writer = new cv.VideoWriter(video, cv.VideoWriter.fourcc('MJPG'), FPS, new cv.Size(WIDTH, HEIGHT), true);
  for (let i = 0; i < FRAMES; i++) writer.write(syntheticFrame(i));
  writer.release();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function opencvConfig(settings: Record<string, unknown>): OpencvCameraConfig {
  const config = cameraSchema.parse({ type: 'opencv', id: 'gate-1', ...settings });
  if (config.type !== 'opencv') throw new Error('not an opencv camera');
  return config;
}

const cameras: OpencvCamera[] = [];
function camera(settings: Record<string, unknown>): OpencvCamera {
  const cam = new OpencvCamera(opencvConfig(settings));
  cameras.push(cam);
  return cam;
}
afterEach(async () => {
  await Promise.all(cameras.splice(0).map((c) => c.stop()));
});

const events = (sink: CollectingSink, kind: CameraEvent['kind']) => sink.events.filter((e) => e.kind === kind);

describe('OpenCV camera on a video file', () => {
  it('keeps the camera contract', async () => {
    const sink = await checkCameraContract(camera({ source: video, maxFps: 30 }), { frames: 5, cameraId: 'gate-1' });
    expect(sink.events[0]).toMatchObject({ kind: 'connected' });
    for (const f of sink.frames) {
      expect(sniffImage(f.image)).toMatchObject({ format: 'jpeg', width: WIDTH, height: HEIGHT });
      expect(f.origin).toMatch(/clip\.avi#frame \d+$/);
    }
  });

  it('plays every frame in order at the file rate, then finishes without reopening the file', async () => {
    const cam = camera({ source: video, maxFps: 120 });
    const sink = new CollectingSink();
    const started = Date.now();
    await cam.start(sink);
    await sink.until(() => events(sink, 'finished').length > 0, 15_000, 'finished');
    // played, not dumped: 30 frames at 25 fps take more than a second
    expect(Date.now() - started).toBeGreaterThan(((FRAMES - 1) * 1000) / FPS);
    const all = Array.from({ length: FRAMES }, (_, i) => i);
    expect(sink.frames.map((f) => f.origin)).toEqual(all.map((i) => `${video}#frame ${i}`));
    expect(sink.frames.map((f) => f.seq)).toEqual(all.map((i) => i + 1));
    expect(sink.frames.map((f) => frameNumber(f.image))).toEqual(all);
    const decoded = cv.imdecode(sink.frames[7]!.image);
    expect([decoded.cols, decoded.rows]).toEqual([WIDTH, HEIGHT]);

    await new Promise((r) => setTimeout(r, 500));
    expect(sink.frames).toHaveLength(FRAMES);
    expect(sink.events.map((e) => e.kind)).toEqual(['connected', 'finished']);
    expect(cam.status()).toMatchObject({ connected: false, frames: FRAMES, lastError: null });
    expect(cam.status().detail).toMatch(/finished/);
  });
});

describe('VideoFileReader', () => {
  it('returns every frame in order with its position, then null', async () => {
    const reader = await VideoFileReader.open(video, { jpegQuality: 80 });
    try {
      expect(reader.info).toMatchObject({ width: WIDTH, height: HEIGHT, fps: FPS, frameCount: FRAMES });
      const frames = [];
      for (let f = await reader.next(); f; f = await reader.next()) frames.push(f);
      expect(frames.map((f) => f.index)).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
      expect(frames.map((f) => f.positionMs)).toEqual(Array.from({ length: FRAMES }, (_, i) => (i * 1000) / FPS));
      expect(frames.map((f) => frameNumber(f.image))).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
      expect(sniffImage(frames[0]!.image)).toMatchObject({ format: 'jpeg', width: WIDTH, height: HEIGHT });
      expect(await reader.next()).toBeNull();
    } finally {
      await reader.close();
    }
    await expect(reader.next()).rejects.toThrow(/closed/);
  });

  it('answers requests made without waiting, in order', async () => {
    const reader = await VideoFileReader.open(video);
    try {
      const frames = await Promise.all([reader.next(), reader.next(), reader.next()]);
      expect(frames.map((f) => f?.index)).toEqual([0, 1, 2]);
    } finally {
      await reader.close();
    }
  });

  it('refuses a missing file and a file that is not video, saying why', async () => {
    await expect(VideoFileReader.open(path.join(dir, 'missing.mp4'))).rejects.toThrow(
      /cannot open .*missing\.mp4: no such file/,
    );
    const notVideo = path.join(dir, 'plates.csv');
    writeFileSync(notVideo, 'plate,state\n7ABC123,CA\n');
    await expect(VideoFileReader.open(notVideo)).rejects.toThrow(/cannot open .*plates\.csv: FFmpeg cannot read it/);
  });
});

describe('OpenCV camera on a source that is not there', () => {
  it.each([
    ['a device', '/dev/video99', /^cannot open \/dev\/video99: no such device/],
    ['a device number', 99, /^cannot open \/dev\/video99: no such device/],
    ['a video file', '/nonexistent/clip.mp4', /^cannot open \/nonexistent\/clip\.mp4: no such file/],
  ])('%s: start() resolves, the camera reports why and keeps retrying, stop() is prompt', async (_, source, why) => {
    const cam = camera({ source, reconnectMinMs: 50, reconnectMaxMs: 100 });
    const sink = new CollectingSink();
    await cam.start(sink);
    await sink.until(() => events(sink, 'disconnected').length >= 2, 15_000, 'two failed attempts');
    for (const e of sink.events) {
      expect(e).toMatchObject({ kind: 'disconnected', error: expect.stringMatching(why) });
      expect(e.kind === 'disconnected' && e.retryInMs).toBeGreaterThan(0);
    }
    expect(cam.status()).toMatchObject({ connected: false, frames: 0, lastError: expect.stringMatching(why) });
    await cam.stop();
    const reported = sink.events.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.events).toHaveLength(reported);

    // prompt: a stop while the next try is pending does not wait for it
    const patient = camera({ source, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
    const sink2 = new CollectingSink();
    await patient.start(sink2);
    await sink2.until(() => events(sink2, 'disconnected').length === 1, 15_000, 'the failed attempt');
    await expectStopBeforeRetry(patient, sink2);
  });
});

/**
 * An IP camera's MJPEG over HTTP (multipart/x-mixed-replace), on a free loopback port. It sends the same frame
 * clock to every open connection; `sending = false` stalls it with the connections left open.
 */
class MjpegServer {
  sending = true;
  connections = 0;
  private readonly responses = new Set<http.ServerResponse>();
  private readonly server = http.createServer((req, res) => this.serve(req, res));
  private readonly clock: NodeJS.Timeout;
  private tick = 0;
  private readonly jpegs = Array.from({ length: FRAMES }, (_, i) => cv.imencode('.jpg', syntheticFrame(i)));

  constructor(fps: number) {
    this.clock = setInterval(() => this.send(), 1000 / fps);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/video.mjpg`;
  }

  /** Ends every open response, as a camera that reboots does. */
  endAll(): void {
    for (const res of this.responses) res.end();
    this.responses.clear();
  }

  async close(): Promise<void> {
    clearInterval(this.clock);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.connections++;
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace;boundary=frameboundary', 'Cache-Control': 'no-cache' });
    this.responses.add(res);
    req.on('close', () => this.responses.delete(res));
  }

  private send(): void {
    if (!this.sending) return;
    const jpeg = this.jpegs[this.tick++ % this.jpegs.length]!;
    for (const res of this.responses) {
      res.write(`--frameboundary\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
      res.write(jpeg);
      res.write('\r\n');
    }
  }
}

describe('OpenCV camera on an HTTP MJPEG stream', () => {
  let server: MjpegServer;
  let url: string;
  beforeAll(async () => {
    server = new MjpegServer(25);
    url = await server.listen();
  });
  afterAll(async () => {
    await server.close();
  });

  it('reports a stall, reopens the stream, and frames resume when the camera sends again', async () => {
    server.sending = true;
    const cam = camera({ source: url, maxFps: 30, stallTimeoutMs: 1000, reconnectMinMs: 100, reconnectMaxMs: 200 });
    const sink = new CollectingSink();
    await cam.start(sink);
    await sink.until(() => sink.frames.length >= 5, 15_000, 'frames from the stream');
    expect(sink.events[0]).toMatchObject({ kind: 'connected', detail: expect.stringContaining('127.0.0.1') });
    expect(sink.frames[0]!.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/video\.mjpg#frame \d+$/);
    expect(sniffImage(sink.frames[0]!.image)).toMatchObject({ format: 'jpeg', width: WIDTH, height: HEIGHT });

    server.sending = false;
    const stalledAt = Date.now();
    await sink.until(() => events(sink, 'disconnected').length > 0, 10_000, 'the stall to be reported');
    expect(Date.now() - stalledAt).toBeGreaterThanOrEqual(900);
    expect(events(sink, 'disconnected')[0]).toMatchObject({
      error: expect.stringMatching(/^no frame for 1000 ms from http:\/\/127\.0\.0\.1/),
      retryInMs: expect.any(Number),
    });
    expect(cam.status().connected).toBe(false);
    // reopened while the camera is still silent: opening hangs, and that counts as a stall too
    await sink.until(() => events(sink, 'disconnected').length >= 2, 10_000, 'the reopened stream to stall');
    expect(events(sink, 'disconnected')[1]).toMatchObject({ error: expect.stringMatching(/still opening/) });
    const beforeResume = sink.frames.length;

    server.sending = true;
    const resumedAt = Date.now();
    await sink.until(
      () => events(sink, 'connected').length >= 2 && sink.frames.length >= beforeResume + 5,
      15_000,
      'frames after the stream resumed',
    );
    expect(server.connections).toBeGreaterThanOrEqual(2);
    const after = sink.frames.slice(beforeResume);
    expect(after.every((f) => f.capturedAt >= resumedAt - 50)).toBe(true);
    const seqs = sink.frames.map((f) => f.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(cam.status()).toMatchObject({ connected: true, frames: sink.frames.length });
  });

  it('does not take a low maxFps for a stall', async () => {
    server.sending = true;
    const cam = camera({ source: url, maxFps: 1, stallTimeoutMs: 500 });
    const sink = new CollectingSink();
    await cam.start(sink);
    await sink.until(() => sink.frames.length >= 2, 15_000, 'two frames at 1 fps');
    expect(sink.events.map((e) => e.kind)).toEqual(['connected']);
    expect(sink.frames[1]!.capturedAt - sink.frames[0]!.capturedAt).toBeGreaterThan(500);
  });

  it('reopens a stream the camera ended', async () => {
    server.sending = true;
    const cam = camera({ source: url, maxFps: 30, stallTimeoutMs: 5000, reconnectMinMs: 100, reconnectMaxMs: 200 });
    const sink = new CollectingSink();
    await cam.start(sink);
    await sink.until(() => sink.frames.length >= 3, 15_000, 'frames from the stream');
    server.endAll();
    await sink.until(() => events(sink, 'disconnected').length > 0, 10_000, 'the end to be reported');
    expect(events(sink, 'disconnected')[0]).toMatchObject({ error: expect.stringMatching(/ended/) });
    const before = sink.frames.length;
    await sink.until(() => sink.frames.length >= before + 3, 15_000, 'frames after reopening');
    expect(events(sink, 'connected')).toHaveLength(2);
  });

  it('keeps only the newest frame while the unit is busy, and counts the ones it dropped', async () => {
    server.sending = true;
    const cam = camera({ source: url, maxFps: 30 });
    // every frame the camera gets from its capture process, in the order they come
    const received: Frame[] = [];
    const inner = cam as unknown as { deliver(frame: Frame): void };
    const deliver = inner.deliver.bind(cam);
    inner.deliver = (frame) => {
      received.push(frame);
      deliver(frame);
    };
    const newest: boolean[] = [];
    const sink = new (class extends CollectingSink {
      override async offer(frame: Frame): Promise<void> {
        newest.push(frame === received.at(-1));
        await super.offer(frame);
      }
    })();
    sink.offerDelayMs = 250; // recognition far slower than the stream
    await cam.start(sink);
    await sink.until(() => sink.frames.length >= 8, 15_000, 'frames to a slow unit');
    await cam.stop();
    // latest wins: whenever the unit takes a frame it is the newest the camera has, never an older one kept in a
    // queue. This holds however busy the machine is; how many milliseconds behind the stream that frame is, is a
    // figure for a benchmark, not for this test
    expect(newest).toEqual(sink.frames.map(() => true));
    // and the unit was slow enough for that to matter: frames came that it was never given
    expect(received.filter((f) => !sink.frames.includes(f)).length).toBeGreaterThan(0);
    expect(cam.status().detail).toMatch(/[1-9]\d* frames dropped/);
  });
});
