/**
 * The gphoto2 camera against real libgphoto2: its "Directory Browse" camera on a disk: port serves the files of a
 * temporary folder (real JPEGs copied from test-fixtures) as if it were a camera's card. It cannot capture, so it
 * is watched for new files (the gphoto2 program). The capture path (node-gphoto2 in a child process) is exercised
 * as far as it can be without a USB camera: autodetection finds none, which must be reported and retried.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Gphoto2Camera, type Gphoto2CameraConfig } from '../src/camera/gphoto2.js';
import type { CameraEvent } from '../src/camera/types.js';
import { cameraSchema } from '../src/config/schema.js';
import { systemClock } from '../src/util/clock.js';
import { checkCameraContract, CollectingSink, expectStopBeforeRetry } from './camera-contract.js';

const PLATES = path.join(import.meta.dirname, '..', 'test-fixtures', 'plates');
const SERVED = ['us-ca-clean.jpg', 'eu-fr-clean.jpg', 'br-old-clean.jpg'];

function gphoto2Config(fields: Record<string, unknown>): Gphoto2CameraConfig {
  const config = cameraSchema.parse({ type: 'gphoto2', id: 'dslr-1', ...fields });
  if (config.type !== 'gphoto2') throw new Error('not a gphoto2 camera config');
  return config;
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A folder laid out like a camera card: DCIM/100CANON/IMG_000n.JPG, copies of fixture plates. */
function card(names: string[] = SERVED): { root: string; dir: string; served: Map<string, Buffer> } {
  const root = mkdtempSync(path.join(tmpdir(), 'alpr-gphoto2-test-'));
  cleanup.push(() => rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'card');
  mkdirSync(path.join(dir, 'DCIM', '100CANON'), { recursive: true });
  const served = new Map<string, Buffer>();
  names.forEach((fixture, i) => served.set(putOnCard(dir, i + 1, fixture), readFileSync(path.join(PLATES, fixture))));
  return { root, dir, served };
}

function putOnCard(dir: string, n: number, fixture: string): string {
  const name = `IMG_${String(n).padStart(4, '0')}.JPG`;
  copyFileSync(path.join(PLATES, fixture), path.join(dir, 'DCIM', '100CANON', name));
  return name;
}

function started(camera: Gphoto2Camera): Gphoto2Camera {
  cleanup.push(() => camera.stop());
  return camera;
}

const count = (events: CameraEvent[], kind: CameraEvent['kind']) => events.filter((e) => e.kind === kind).length;

describe('gphoto2 camera, Directory Browse (watched for new files)', () => {
  it('keeps the camera contract', async () => {
    const { dir } = card();
    const camera = started(new Gphoto2Camera(gphoto2Config({ port: `disk:${dir}` }), { clock: systemClock }));
    const sink = await checkCameraContract(camera, { frames: SERVED.length, cameraId: 'dslr-1' });
    expect(sink.events[0]).toMatchObject({ kind: 'connected' });
    expect((sink.events[0] as { detail: string }).detail).toContain('Directory Browse');
  });

  it('offers the bytes the camera serves, names the file, and takes it off the camera once offered', async () => {
    const { dir, served } = card();
    // a RAW file beside the JPEGs is left alone
    copyFileSync(path.join(PLATES, SERVED[0]!), path.join(dir, 'DCIM', '100CANON', 'IMG_0009.CR2'));
    const camera = started(new Gphoto2Camera(gphoto2Config({ port: `disk:${dir}` }), { clock: systemClock }));
    const sink = new CollectingSink();
    await camera.start(sink);
    await sink.until(() => sink.frames.length >= served.size, 15_000, 'every served file');
    await sink.until(() => readdirSync(path.join(dir, 'DCIM', '100CANON')).length === 1, 5000, 'the JPEGs to leave the card');
    await camera.stop();

    expect(sink.frames.map((f) => f.seq)).toEqual([1, 2, 3]);
    for (const frame of sink.frames) {
      const name = path.basename(frame.origin);
      expect(frame.origin).toBe(`disk:${dir}/DCIM/100CANON/${name}`);
      expect(frame.image.equals(served.get(name)!)).toBe(true);
    }
    expect(new Set(sink.frames.map((f) => path.basename(f.origin)))).toEqual(new Set(served.keys()));
    expect(readdirSync(path.join(dir, 'DCIM', '100CANON'))).toEqual(['IMG_0009.CR2']);
    expect(count(sink.events, 'error')).toBe(0);
  });

  it('takes a picture that arrives while it runs', async () => {
    const { dir } = card([]);
    const camera = started(new Gphoto2Camera(gphoto2Config({ port: `disk:${dir}`, intervalMs: 100 }), { clock: systemClock }));
    const sink = new CollectingSink();
    await camera.start(sink);
    await sink.until(() => count(sink.events, 'connected') === 1, 10_000, 'connected');
    const before = Date.now();
    putOnCard(dir, 1, 'us-ca-clean.jpg');
    await sink.until(() => sink.frames.length === 1, 10_000, 'the new picture');
    expect(sink.frames[0]!.capturedAt).toBeGreaterThanOrEqual(before - 200);
    expect(sink.frames[0]!.image.equals(readFileSync(path.join(PLATES, 'us-ca-clean.jpg')))).toBe(true);
  });

  it('reports an unplugged camera, finds it again when it is back, and goes on taking pictures', async () => {
    const { root, dir } = card(['us-ca-clean.jpg']);
    const camera = started(new Gphoto2Camera(gphoto2Config({ port: `disk:${dir}`, reconnectMinMs: 100, reconnectMaxMs: 400 }), { clock: systemClock }));
    const sink = new CollectingSink();
    await camera.start(sink);
    await sink.until(() => sink.frames.length === 1, 15_000, 'the first picture');

    const away = path.join(root, 'unplugged');
    renameSync(dir, away);
    await sink.until(() => count(sink.events, 'disconnected') >= 1, 10_000, 'disconnected');
    const lost = sink.events.find((e) => e.kind === 'disconnected') as Extract<CameraEvent, { kind: 'disconnected' }>;
    expect(lost.error).toContain(`folder ${dir} not found`);
    expect(lost.retryInMs).toBe(100);
    expect(camera.status().connected).toBe(false);

    putOnCard(away, 2, 'eu-fr-clean.jpg');
    renameSync(away, dir);
    await sink.until(() => count(sink.events, 'connected') === 2, 10_000, 'connected again');
    await sink.until(() => sink.frames.length === 2, 10_000, 'a picture after the reconnect');
    expect(sink.frames[1]!.seq).toBe(2);
    expect(sink.frames[1]!.origin).toMatch(/IMG_0002\.JPG$/);
    expect(camera.status()).toMatchObject({ connected: true, frames: 2, lastError: null });
  });

  it('is not a crash when the folder is missing at start, and stops at once while a retry is pending', async () => {
    const { root } = card([]);
    const missing = path.join(root, 'not-plugged-in');
    const camera = started(new Gphoto2Camera(gphoto2Config({ port: `disk:${missing}`, reconnectMinMs: 60_000 }), { clock: systemClock }));
    const sink = new CollectingSink();
    await camera.start(sink);
    await sink.until(() => count(sink.events, 'disconnected') === 1, 10_000, 'disconnected');
    expect(sink.events[0]).toMatchObject({ kind: 'disconnected', retryInMs: 60_000 });
    expect((sink.events[0] as { error: string }).error).toContain(`disk:${missing}`);
    await expectStopBeforeRetry(camera, sink);
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses a Directory Browse camera without a folder: libgphoto2 would serve the whole file system', async () => {
    const sink = new CollectingSink();
    const noFolder = new Gphoto2Camera(gphoto2Config({ model: 'Directory Browse' }), { clock: systemClock });
    await expect(noFolder.start(sink)).rejects.toThrow(/needs a disk: port/);
    await expect(new Gphoto2Camera(gphoto2Config({ port: 'disk:/' }), { clock: systemClock }).start(sink)).rejects.toThrow(/other than \//);
    await expect(new Gphoto2Camera(gphoto2Config({ port: 'disk:/tmp/x' }), { trigger: 'unit', clock: systemClock }).start(sink)).rejects.toThrow(
      /cannot capture/,
    );
    expect(sink.events).toEqual([]);
  });
});

describe('gphoto2 camera, USB capture (node-gphoto2)', () => {
  it('reports a camera that is not there, keeps looking with growing waits, and stops promptly', async () => {
    const config = gphoto2Config({ model: 'Canon EOS 550D', port: 'usb:999,999', reconnectMinMs: 100, reconnectMaxMs: 400 });
    const camera = started(new Gphoto2Camera(config, { clock: systemClock }));
    const sink = new CollectingSink();
    await camera.start(sink);
    await sink.until(() => count(sink.events, 'disconnected') >= 3, 20_000, 'three failed attempts');
    const lost = sink.events.filter((e) => e.kind === 'disconnected') as Array<Extract<CameraEvent, { kind: 'disconnected' }>>;
    expect(lost.map((e) => e.retryInMs).slice(0, 3)).toEqual([100, 200, 400]);
    expect(lost[0]!.error).toContain('no camera found (wanted "Canon EOS 550D" on usb:999,999)');
    expect(lost[0]!.error).toContain('libgphoto2 sees');
    expect(camera.status()).toMatchObject({ connected: false, frames: 0 });
    expect(camera.status().lastError).toContain('no camera found');

    await camera.stop();
    const after = sink.events.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.events.length).toBe(after);
    await camera.stop();

    // promptly: a stop while the next look is pending does not wait for it
    const patient = started(new Gphoto2Camera({ ...config, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 }, { clock: systemClock }));
    const sink2 = new CollectingSink();
    await patient.start(sink2);
    await sink2.until(() => count(sink2.events, 'disconnected') === 1, 20_000, 'the failed attempt');
    await expectStopBeforeRetry(patient, sink2);
  });
});
