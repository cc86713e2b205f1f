/**
 * What every camera gives the unit, whatever is behind it (libgphoto2, OpenCV VideoCapture, a watched folder,
 * a replayed folder or video). A camera produces encoded images; decoding and recognition happen elsewhere
 * (in the recognition worker), so a camera never loads OpenCV into the main thread.
 */

export interface Frame {
  cameraId: string;
  /** 1, 2, 3... per camera, in capture order, across reconnects. */
  seq: number;
  /** When the frame was taken, milliseconds since the epoch (UTC, the unit's clock). */
  capturedAt: number;
  /** The image as the camera gave it (JPEG or PNG bytes), never re-encoded. */
  image: Buffer;
  /** Where the frame came from: a file name, a video position, a camera path. For logs and the technician. */
  origin: string;
  /**
   * Called exactly once by the unit when it is finished with the frame: its reads (if any) are on disk
   * ('processed'), it was dropped under back-pressure ('dropped'), or it could not be used ('failed').
   * The directory camera uses it to mark a file done only once its reads are stored.
   */
  settle?: (outcome: FrameOutcome) => void;
}

export type FrameOutcome = 'processed' | 'dropped' | 'failed';

export type CameraEvent =
  | { kind: 'connected'; detail: string }
  /** Lost or could not open; the camera retries by itself after retryInMs (absent: it will not retry). */
  | { kind: 'disconnected'; error: string; retryInMs?: number }
  /** A problem with one frame or file; the camera goes on. */
  | { kind: 'error'; error: string }
  /** A finite source (replay without loop) has given its last frame. */
  | { kind: 'finished' };

export interface FrameSink {
  /**
   * Hands a frame to the unit. A camera awaits the promise before it offers its next frame: a live camera's
   * offer resolves at once (when recognition lags, the unit drops the oldest waiting frame); a queued camera's
   * (directory) resolves only when there is room, so files wait on disk instead of in memory.
   */
  offer(frame: Frame): Promise<void>;
  /** State changes and problems, for the log and `alpr-edge status`. */
  report(event: CameraEvent): void;
}

export interface CameraStatus {
  id: string;
  type: string;
  connected: boolean;
  /** Frames given to the unit since start. */
  frames: number;
  lastFrameAt: number | null;
  lastError: string | null;
  /** Free text: the device, file or URL in use. */
  detail: string;
}

export interface Camera {
  readonly id: string;
  readonly type: string;
  /** 'live': frames may be dropped when recognition lags (latest wins). 'queued': frames wait at the source. */
  readonly delivery: 'live' | 'queued';
  /**
   * Starts capturing into `sink`. Resolves once capture has started (not necessarily connected: a camera that
   * is absent keeps retrying and reports 'disconnected'). Rejects only for a configuration that can never work.
   */
  start(sink: FrameSink): Promise<void>;
  /** Stops capturing; resolves when no further frame will be offered. Safe to call twice. */
  stop(): Promise<void>;
  status(): CameraStatus;
}

/** What a camera keeps count of while it runs, for its `status()` (the detail it says itself). */
export class CameraHealth {
  connected = false;
  /** Frames given to the unit since start. */
  frames = 0;
  lastFrameAt: number | null = null;
  lastError: string | null = null;

  status(camera: Pick<Camera, 'id' | 'type'>, detail: string): CameraStatus {
    const { connected, frames, lastFrameAt, lastError } = this;
    return { id: camera.id, type: camera.type, connected, frames, lastFrameAt, lastError, detail };
  }
}

/** Waits that grow from min to max (doubling) while a source keeps failing, back to min after a success. */
export class Backoff {
  private next: number;
  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.next = minMs;
  }
  /** The wait before the next attempt; doubles the one after. */
  take(): number {
    const wait = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    return wait;
  }
  reset(): void {
    this.next = this.minMs;
  }
}

/** Limits a camera to `maxFps`: `admit(now)` says whether a frame taken now may be offered. */
export class RateLimiter {
  private last = -Infinity;
  private readonly interval: number;
  constructor(maxFps: number) {
    // a little slack so a camera running at exactly maxFps is not halved by timer jitter
    this.interval = (1000 / maxFps) * 0.9;
  }
  admit(now: number): boolean {
    if (now - this.last < this.interval) return false;
    this.last = now;
    return true;
  }
}
