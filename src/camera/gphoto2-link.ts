/**
 * What the two ways of the gphoto2 camera (capture: gphoto2-capture.ts, watch: gphoto2-watch.ts) share with the
 * camera (gphoto2.ts): the plan, the shot, the link to an open camera, and their checks and words.
 */
import { createRequire } from 'node:module';
import { sniffImage } from '../recognition/image-header.js';

/** What libgphoto2 prints on stderr that is kept for messages. */
export const STDERR_KEEP_CHARS = 8192;

/** What is wanted of libgphoto2, decided once from the config. */
export interface Plan {
  mode: 'capture' | 'watch';
  model: string;
  port: string;
}

/** A picture the camera gave, checked to be a JPEG, before it becomes a frame. */
export interface Shot {
  image: Buffer;
  origin: string;
  takenAt: number;
  /** Called once the frame has been offered (watch: the file is deleted from the camera). */
  delivered?: () => Promise<void>;
}

/** An open camera. `next()` rejects when the camera is lost; `close()` ends everything it has running. */
export interface CameraLink {
  readonly detail: string;
  /**
   * The next picture; null when there is none this time (watch: nothing new; capture: the picture was unusable,
   * reported through `problem`). `admit` is awaited right before a picture is taken or downloaded (maxFps).
   */
  next(signal: AbortSignal, admit: () => Promise<void>): Promise<Shot | null>;
  close(): Promise<void>;
}

/** Why `image` cannot be a frame; null for a complete JPEG. */
export function notJpeg(image: Buffer): string | null {
  try {
    const format = sniffImage(image).format;
    return format === 'jpeg' ? null : `a ${format.toUpperCase()} image, not a JPEG`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The camera a plan asks for, e.g. '"Canon EOS 550D" on any port'. */
export function describeCamera(plan: Plan): string {
  return `${plan.model === '' ? 'the first camera found' : `"${plan.model}"`} on ${plan.port === '' ? 'any port' : plan.port}`;
}

/** Where the gphoto2 npm package (node-gphoto2) is; null when it is not installed. */
export function gphoto2ModulePath(): string | null {
  try {
    return createRequire(import.meta.url).resolve('gphoto2');
  } catch {
    return null;
  }
}
