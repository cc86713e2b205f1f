/**
 * Cameras read through OpenCV VideoCapture: a V4L2 device, an RTSP/HTTP stream, or a video file.
 *
 * OpenCV may be loaded in only one JavaScript context per process, and the recognition worker owns it, so capture
 * runs in a child process (opencv-capture.ts) that sends JPEG frames back over a pipe. A hung stream or a crash in
 * FFmpeg then costs a respawn, never the unit. This file is the parent side and never imports OpenCV; the sources
 * and the records between the two are in opencv-protocol.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { CameraConfig } from './config.js';
import { packageRoot } from '../util/paths.js';
import {
  CAPTURE_ENV,
  CaptureExit,
  PULL_REQUEST,
  RecordKind,
  RecordReader,
  redactCredentials,
  sourceKind,
  sourceLabel,
  type CaptureOpened,
  type CaptureRecord,
  type CaptureRequest,
  type SourceKind,
} from './opencv-protocol.js';
import { Backoff, CameraHealth, type Camera, type CameraStatus, type Frame, type FrameSink } from './types.js';

export type OpencvCameraConfig = Extract<CameraConfig, { type: 'opencv' }>;

// ---------------------------------------------------------------------------------------------------------------
// The capture process, seen from the parent

export function captureScriptPath(): string {
  return path.join(packageRoot(), 'dist', 'src', 'camera', 'opencv-capture.js');
}

export interface CaptureExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it ended, in words: the child's own message, or what can be told from the exit and its stderr. */
  reason: string;
  /** The source ended normally (end of a file or of a stream). */
  ended: boolean;
}

const STDERR_KEEP_BYTES = 8192;
const KILL_GRACE_MS = 1000;
/** Starting node and loading OpenCV, before the stall timeout applies (slow on a busy Pi, never this slow). */
const START_TIMEOUT_MS = 30_000;

/** One capture child process: spawns it, parses its records, and says why it exited. */
class CaptureProcess {
  private readonly child: ChildProcess;
  private readonly reader = new RecordReader();
  private stderrTail = '';
  private lastWord: { kind: 'end' | 'fail'; text: string } | null = null;
  private exitInfo: CaptureExitInfo | null = null;
  private readonly exited: Promise<CaptureExitInfo>;
  readonly label: string;

  constructor(
    request: CaptureRequest,
    private readonly onRecord: (record: CaptureRecord) => void,
    onExit: (info: CaptureExitInfo) => void,
  ) {
    this.label = sourceLabel(request.source);
    const script = captureScriptPath();
    this.child = spawn(process.execPath, [script], {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, OPENCV4NODEJS_DISABLE_AUTOBUILD: '1', [CAPTURE_ENV]: JSON.stringify(request) },
    });
    const records = this.child.stdio[3] as Readable;
    records.on('data', (chunk: Buffer) => this.receive(chunk));
    records.on('error', () => {});
    this.child.stdin!.on('error', () => {}); // EPIPE when the child is already gone; its exit says why
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_KEEP_BYTES);
    });
    this.exited = new Promise((resolve) => {
      let spawnError: Error | null = null;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        const info = this.describeExit(code, signal, spawnError, existsSync(script));
        this.exitInfo = info;
        resolve(info);
        onExit(info);
      };
      this.child.on('error', (err) => {
        spawnError = err;
        if (this.child.pid === undefined) finish(null, null); // never started: no 'close' to wait for
      });
      this.child.on('close', finish);
    });
  }

  /** Pull mode: asks for the next frame. */
  request(): void {
    if (this.exitInfo === null) (this.child.stdin as Writable).write(Buffer.of(PULL_REQUEST));
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** Asks the child to stop, kills it if it does not; resolves once it is gone. */
  async kill(): Promise<CaptureExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.child.stdin!.end();
    // a child blocked inside a read of a hung stream does not look at stdin: a signal ends it at once
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private receive(chunk: Buffer): void {
    let records: CaptureRecord[];
    try {
      records = this.reader.push(chunk);
    } catch (err) {
      this.lastWord = { kind: 'fail', text: (err as Error).message };
      this.child.kill('SIGKILL');
      return;
    }
    for (const record of records) {
      if (record.kind === RecordKind.End) this.lastWord = { kind: 'end', text: record.reason };
      if (record.kind === RecordKind.Fail) this.lastWord = { kind: 'fail', text: record.message };
      this.onRecord(record);
    }
  }

  private describeExit(
    code: number | null,
    signal: NodeJS.Signals | null,
    spawnError: Error | null,
    scriptExists: boolean,
  ): CaptureExitInfo {
    const hint = lastUsefulLine(this.stderrTail);
    let reason: string;
    if (this.lastWord) {
      reason = this.lastWord.text;
      // VideoCapture says only "not opened"; OpenCV's or FFmpeg's warning on stderr often says why
      if (this.lastWord.kind === 'fail' && hint) reason += ` (${hint})`;
    } else if (spawnError) {
      reason = `cannot start the capture process: ${spawnError.message}`;
    } else if (!scriptExists) {
      reason = `cannot start the capture process: ${captureScriptPath()} is missing (run npm run build)`;
    } else if (signal) {
      reason = `capture process for ${this.label} killed by ${signal}`;
    } else {
      reason = `capture process for ${this.label} exited with code ${code}${hint ? `: ${hint}` : ''}`;
    }
    return { code, signal, reason: redactCredentials(reason), ended: code === CaptureExit.Ended };
  }
}

/** The last line of the child's stderr worth showing, without OpenCV's log prefix. */
function lastUsefulLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) =>
      l
        .replace(/^\[\s*(WARN|ERROR|INFO)[^\]]*\]\s*(global\s+)?\S+\s+\(\d+\)\s+\S+\s*/, '')
        .replace(/^\[[a-z0-9_ ]+ @ 0x[0-9a-f]+\]\s*/i, '')
        .trim(),
    )
    .filter((l) => l.length > 0 && !l.startsWith('OpenCV Error') && !/^at /.test(l));
  const line = lines[lines.length - 1] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

// ---------------------------------------------------------------------------------------------------------------
// The camera

/**
 * A live camera through OpenCV. Frames are taken as fast as the source gives them (a stream must be drained or its
 * latency grows), at most maxFps are encoded and offered; while the unit is busy with one, only the newest waiting
 * frame is kept. A source that fails or stalls is reopened with a growing back-off; a video file that ends
 * finishes the camera.
 */
export class OpencvCamera implements Camera {
  readonly type = 'opencv';
  readonly delivery = 'live' as const;
  readonly id: string;

  private readonly kind: SourceKind;
  private readonly label: string;
  private readonly backoff: Backoff;
  private sink: FrameSink | null = null;
  private running = false;
  private capture: CaptureProcess | null = null;
  private opened: CaptureOpened | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stallTimer: NodeJS.Timeout | null = null;

  private seq = 0;
  private readonly health = new CameraHealth();
  private finished = false;
  /** Frames dropped by earlier capture processes, and the latest count from the current one. */
  private droppedByEarlierCaptures = 0;
  private droppedByCapture = 0;
  /** Frames replaced by a newer one while the unit was still taking the previous. */
  private droppedWaiting = 0;
  private offering: Promise<void> | null = null;
  private waiting: Frame | null = null;
  /** A stalled capture process being killed. */
  private killing: Promise<unknown> | null = null;

  constructor(private readonly config: OpencvCameraConfig) {
    this.id = config.id;
    this.kind = sourceKind(config.source);
    this.label = sourceLabel(config.source);
    this.backoff = new Backoff(config.reconnectMinMs, Math.max(config.reconnectMinMs, config.reconnectMaxMs));
  }

  async start(sink: FrameSink): Promise<void> {
    if (this.running) return;
    this.sink = sink;
    this.running = true;
    this.finished = false;
    this.backoff.reset();
    this.spawnCapture();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clearTimers();
    this.waiting = null;
    const capture = this.capture;
    this.capture = null;
    this.health.connected = false;
    if (capture) await capture.kill();
    if (this.killing) await this.killing;
    if (this.offering) await this.offering;
  }

  status(): CameraStatus {
    const dropped = this.droppedByEarlierCaptures + this.droppedByCapture + this.droppedWaiting;
    let detail = this.label;
    if (this.opened) detail += ` (${this.opened.width}x${this.opened.height}, ${this.opened.backend})`;
    if (dropped > 0) detail += `; ${dropped} frames dropped while recognition was busy`;
    if (this.finished) detail += '; finished';
    return this.health.status(this, detail);
  }

  private spawnCapture(): void {
    this.retryTimer = null;
    if (!this.running) return;
    this.opened = null;
    const capture = new CaptureProcess(
      {
        source: this.config.source,
        mode: 'live',
        width: this.config.width,
        height: this.config.height,
        jpegQuality: this.config.jpegQuality,
        maxFps: this.config.maxFps,
      },
      (record) => {
        if (this.capture === capture) this.onRecord(record);
      },
      (info) => {
        if (this.capture === capture) this.onCaptureExit(info);
      },
    );
    this.capture = capture;
    this.droppedByEarlierCaptures += this.droppedByCapture;
    this.droppedByCapture = 0;
    this.stallTimer = setTimeout(
      () => void this.onStall(capture, `capture process for ${this.label} did not start within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
  }

  private onRecord(record: CaptureRecord): void {
    if (!this.running) return;
    switch (record.kind) {
      case RecordKind.Opening: {
        // from here the source has stallTimeoutMs to give its first frame, then each next one
        const capture = this.capture!;
        if (this.stallTimer) clearTimeout(this.stallTimer);
        this.stallTimer = setTimeout(() => {
          const still = this.opened ? '' : ' (still opening)';
          void this.onStall(capture, `no frame for ${this.config.stallTimeoutMs} ms from ${this.label}${still}`);
        }, this.config.stallTimeoutMs);
        return;
      }
      case RecordKind.Opened:
        this.opened = record.opened;
        return;
      case RecordKind.Alive:
        if (this.health.connected) this.stallTimer?.refresh();
        this.droppedByCapture = record.dropped;
        return;
      case RecordKind.Frame:
        this.stallTimer?.refresh();
        this.droppedByCapture = record.dropped;
        if (!this.health.connected) {
          this.health.connected = true;
          this.backoff.reset();
          const o = this.opened;
          this.sink!.report({
            kind: 'connected',
            detail: o ? `${this.label}: ${o.width}x${o.height}${o.fps > 0 ? ` at ${o.fps} fps` : ''} (${o.backend})` : this.label,
          });
        }
        this.deliver({
          cameraId: this.id,
          seq: 0, // numbered when offered, so that dropped frames leave no gaps
          capturedAt: record.capturedAt,
          image: record.image,
          origin: this.kind === 'device' ? this.label : `${this.label}#frame ${record.index}`,
        });
        return;
      default:
        return; // End and Fail are read from the exit
    }
  }

  /** Offers `frame` now, or keeps it as the one to offer next (replacing an older waiting frame). */
  private deliver(frame: Frame): void {
    if (this.offering) {
      if (this.waiting) this.droppedWaiting++;
      this.waiting = frame;
      return;
    }
    this.offering = this.offerLoop(frame);
  }

  private async offerLoop(first: Frame): Promise<void> {
    let frame: Frame | null = first;
    while (frame && this.running) {
      frame.seq = ++this.seq;
      this.health.frames++;
      this.health.lastFrameAt = frame.capturedAt;
      try {
        await this.sink!.offer(frame);
      } catch (err) {
        this.sink!.report({ kind: 'error', error: `frame ${frame.origin} refused: ${(err as Error).message}` });
      }
      frame = this.waiting;
      this.waiting = null;
    }
    this.offering = null;
  }

  private async onStall(capture: CaptureProcess, error: string): Promise<void> {
    if (this.capture !== capture || !this.running) return;
    this.capture = null;
    this.stallTimer = null;
    this.lose(error);
    const wait = this.backoff.take();
    this.sink!.report({ kind: 'disconnected', error: this.health.lastError!, retryInMs: wait });
    this.killing = capture.kill();
    await this.killing;
    this.killing = null;
    if (this.running && this.capture === null && this.retryTimer === null) {
      this.retryTimer = setTimeout(() => this.spawnCapture(), wait);
    }
  }

  private onCaptureExit(info: CaptureExitInfo): void {
    this.capture = null;
    this.clearTimers();
    if (!this.running) return;
    if (info.ended && this.kind === 'file') {
      this.health.connected = false;
      this.finished = true;
      this.sink!.report({ kind: 'finished' });
      return;
    }
    this.lose(info.reason);
    const wait = this.backoff.take();
    this.sink!.report({ kind: 'disconnected', error: info.reason, retryInMs: wait });
    this.retryTimer = setTimeout(() => this.spawnCapture(), wait);
  }

  private lose(error: string): void {
    this.health.connected = false;
    this.health.lastError = error;
    this.waiting = null;
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.retryTimer = null;
    this.stallTimer = null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a video file frame by frame

export interface VideoFrame {
  /** The frame as JPEG. */
  image: Buffer;
  /** Its position in the video (ms from the start). */
  positionMs: number;
  /** Its number in the video, from 0. */
  index: number;
}

interface Pending {
  resolve: (frame: VideoFrame | null) => void;
  reject: (err: Error) => void;
}

/**
 * Reads a video file one frame at a time, when asked (the replay camera paces frames itself). Decoding runs in a
 * capture child process, like the live camera's.
 */
export class VideoFileReader {
  private readonly pending: Pending[] = [];
  private atEnd = false;
  private closed = false;
  private failure: Error | null = null;

  private constructor(
    private readonly capture: CaptureProcess,
    /** Size, frame rate and frame count the file announces. */
    readonly info: CaptureOpened,
  ) {}

  /** Opens `file`; rejects with the reason when it cannot be read as video. */
  static open(file: string, options: { jpegQuality?: number } = {}): Promise<VideoFileReader> {
    return new Promise((resolve, reject) => {
      let reader: VideoFileReader | null = null;
      const capture: CaptureProcess = new CaptureProcess(
        { source: file, mode: 'pull', width: 0, height: 0, jpegQuality: options.jpegQuality ?? 90, maxFps: 0 },
        (record) => {
          if (reader) reader.onRecord(record);
          else if (record.kind === RecordKind.Opened) {
            reader = new VideoFileReader(capture, record.opened);
            resolve(reader);
          }
        },
        (info) => {
          if (reader) reader.onExit(info);
          else reject(new Error(info.reason));
        },
      );
    });
  }

  /** The next frame, or null after the last one. */
  next(): Promise<VideoFrame | null> {
    if (this.closed) return Promise.reject(new Error(`video reader for ${this.capture.label} is closed`));
    if (this.failure) return Promise.reject(this.failure);
    if (this.atEnd) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.capture.request();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.capture.kill();
    this.failAll(new Error(`video reader for ${this.capture.label} is closed`));
  }

  private onRecord(record: CaptureRecord): void {
    if (record.kind === RecordKind.Frame) {
      this.pending.shift()?.resolve({ image: record.image, positionMs: record.positionMs, index: record.index });
    } else if (record.kind === RecordKind.End) {
      this.atEnd = true;
      for (const p of this.pending.splice(0)) p.resolve(null);
    }
  }

  private onExit(info: CaptureExitInfo): void {
    if (this.closed) return;
    if (info.ended) {
      this.atEnd = true;
      for (const p of this.pending.splice(0)) p.resolve(null);
      return;
    }
    this.failure = new Error(info.reason);
    this.failAll(this.failure);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}
