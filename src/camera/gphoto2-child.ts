/**
 * The capture process of the gphoto2 camera (gphoto2-capture.ts says why node-gphoto2 runs in a process of
 * its own). It autodetects, picks the wanted camera, then captures and downloads on request. Started by the parent
 * with the wanted camera in its environment (ALPR_GPHOTO2_WANT: JSON { model, port }, each '' for any) and the path of
 * the node-gphoto2 package (ALPR_GPHOTO2_MODULE); never imported, but for its types.
 *
 * Messages go over the IPC channel with the 'advanced' serialization, which carries the JPEG bytes without JSON.
 */
import { createRequire } from 'node:module';

/** Child -> parent. */
export type ChildMessage =
  | { kind: 'ready'; model: string; port: string }
  | { kind: 'absent'; seen: Array<{ model: string; port: string }> }
  | { kind: 'fatal'; error: string }
  | { kind: 'shot'; id: number; path?: string; image?: Uint8Array; code?: number; error?: string; stage?: string };

/** Parent -> child. */
export interface ParentMessage {
  op: 'capture';
  id: number;
}

/** What this program uses of node-gphoto2 0.3.2 (the package has no types of its own). */
interface GphotoCamera {
  model: string;
  port: string;
  takePicture(options: { download: false }, done: (code: number, cameraPath: string) => void): void;
  downloadPicture(options: { cameraPath: string }, done: (code: number, image: Uint8Array) => void): void;
}
interface Gphoto2Module {
  GPhoto2: new () => { list(done: (cameras: GphotoCamera[]) => void): void };
}

const messageOf = (e: unknown): string => String((e as Error | undefined)?.message || e);

function main(): void {
  const want = JSON.parse(process.env.ALPR_GPHOTO2_WANT!) as { model: string; port: string };
  process.title = `alpr-edge gphoto2 capture ${want.model || 'any camera'} ${want.port || 'any port'}`;
  const send = (m: ChildMessage): void => {
    if (process.connected) process.send!(m);
  };
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', (e) => {
    send({ kind: 'fatal', error: messageOf(e) });
    process.exit(70);
  });
  let gphoto2: Gphoto2Module;
  try {
    gphoto2 = createRequire(import.meta.url)(process.env.ALPR_GPHOTO2_MODULE!) as Gphoto2Module;
  } catch (e) {
    send({ kind: 'fatal', error: `cannot load the gphoto2 npm package: ${messageOf(e)}` });
    process.exit(70);
  }
  // kept for the life of the process: collecting a GPhoto2 object crashes node
  const gphoto = new gphoto2.GPhoto2();
  (globalThis as { gphoto?: unknown }).gphoto = gphoto;
  let camera: GphotoCamera | null = null;
  gphoto.list((cameras) => {
    const seen = cameras.map((c) => ({ model: c.model, port: c.port }));
    // with no port asked for, a mounted card (a disk: port) is never taken for the camera: it cannot capture
    camera =
      cameras.find(
        (c) => (!want.model || c.model.toLowerCase() === want.model.toLowerCase()) && (want.port ? c.port === want.port : !c.port.startsWith('disk:')),
      ) ?? null;
    if (camera) send({ kind: 'ready', model: camera.model, port: camera.port });
    else send({ kind: 'absent', seen });
  });
  process.on('message', (m: ParentMessage | null) => {
    const cam = camera;
    if (!m || m.op !== 'capture' || !cam) return;
    const id = m.id;
    const fail = (stage: string, e: unknown) => send({ kind: 'shot', id, stage, error: messageOf(e) });
    try {
      cam.takePicture({ download: false }, (code, cameraPath) => {
        if (code) return send({ kind: 'shot', id, stage: 'capture', code });
        try {
          // downloadPicture always deletes the picture from the camera afterwards (node-gphoto2 0.3.2)
          cam.downloadPicture({ cameraPath }, (code2, image) => {
            if (code2) return send({ kind: 'shot', id, stage: 'download', code: code2, path: cameraPath });
            send({ kind: 'shot', id, path: cameraPath, image });
          });
        } catch (e) {
          fail('download', e);
        }
      });
    } catch (e) {
      fail('capture', e);
    }
  });
}

if (!process.send) throw new Error('gphoto2-child.js runs as the capture process of a gphoto2 camera, with an IPC channel');
main();
