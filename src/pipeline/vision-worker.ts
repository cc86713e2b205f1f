/**
 * The recognition worker thread. It is the only JavaScript context in the unit's process that loads OpenCV
 * (the binding cannot be loaded in two contexts of one process), and it owns the tesseract.js OCR pool, whose
 * own workers are further threads. The main thread sends encoded frames and gets plates back, so the main loop
 * (alerts, health, storage) never waits on OpenCV or OCR.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RecognitionConfig } from '../recognition/config.js';
import { cv } from '../recognition/cv.js';
import { decodeImage } from '../recognition/image.js';
import { Recognizer } from '../recognition/recognizer.js';
import type { VisionJob, VisionReply, VisionPlate } from './vision-protocol.js';

if (!parentPort) throw new Error('vision-worker.js runs as a worker thread');
const port = parentPort;


const config = (workerData as { recognition: RecognitionConfig }).recognition;
let recognizer: Recognizer;
try {
  recognizer = await Recognizer.create(config);
} catch (err) {
  port.postMessage({ type: 'fatal', error: (err as Error).message } satisfies VisionReply);
  process.exit(1);
}
port.postMessage({ type: 'ready', ocrWorkers: recognizer.ocrWorkers } satisfies VisionReply);

port.on('message', (msg: VisionJob | { type: 'close' }) => {
  if (msg.type === 'close') {
    void recognizer.close().finally(() => process.exit(0));
    return;
  }
  void handle(msg);
});

async function handle(job: VisionJob): Promise<void> {
  const t0 = performance.now();
  try {
    const gray = decodeImage(Buffer.from(job.image.buffer, job.image.byteOffset, job.image.byteLength), config);
    const decodeMs = performance.now() - t0;
    const result = await recognizer.recognizeMat(gray, { country: job.country }, t0);
    const plates: VisionPlate[] = [];
    for (const p of result.plates) {
      if (job.roi && !insidePolygon(p.box.x + p.box.width / 2, p.box.y + p.box.height / 2, job.roi, result.width, result.height)) {
        continue;
      }
      // The crop: the plate with a margin of a third of its height around it, as JPEG.
      const m = Math.round(p.box.height / 3);
      const x = Math.max(0, p.box.x - m);
      const y = Math.max(0, p.box.y - m);
      const w = Math.min(gray.cols - x, p.box.width + 2 * m);
      const h = Math.min(gray.rows - y, p.box.height + 2 * m);
      const crop = cv.imencode('.jpg', gray.getRegion(new cv.Rect(x, y, w, h)), [cv.IMWRITE_JPEG_QUALITY, 92]);
      plates.push({
        text: p.text,
        confidence: p.confidence,
        box: p.box,
        region: p.region ?? job.country,
        candidates: p.candidates.map((c) => ({ text: c.text, confidence: c.confidence })),
        ...(p.state ? { state: p.state } : {}),
        crop: new Uint8Array(crop.buffer, crop.byteOffset, crop.byteLength),
      });
    }
    const reply: VisionReply = {
      type: 'result',
      id: job.id,
      width: result.width,
      height: result.height,
      decodeMs,
      ms: performance.now() - t0,
      plates,
      ...(result.errors ? { errors: result.errors } : {}),
    };
    port.postMessage(reply, plates.map((p) => p.crop.buffer as ArrayBuffer));
  } catch (err) {
    port.postMessage({ type: 'error', id: job.id, error: (err as Error).message } satisfies VisionReply);
  }
}

/** Point in polygon (ray casting); the polygon is in fractions of the frame. */
function insidePolygon(px: number, py: number, poly: Array<[number, number]>, width: number, height: number): boolean {
  const x = px / width;
  const y = py / height;
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
