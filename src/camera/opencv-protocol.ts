/**
 * What the OpenCV camera (opencv.ts) and its capture process (opencv-capture.ts) share: the kinds of source, and
 * the records the capture process sends on its pipe.
 */

// ---------------------------------------------------------------------------------------------------------------
// Sources

export type SourceKind = 'device' | 'stream' | 'file';

/** Which kind of source `source` names: a device number or /dev path, a URL, or else a video file. */
export function sourceKind(source: string | number): SourceKind {
  if (typeof source === 'number' || source.startsWith('/dev/')) return 'device';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return 'stream';
  return 'file';
}

/** The source as it may appear in logs and status: a stream URL's password is masked. */
export function sourceLabel(source: string | number): string {
  if (typeof source === 'number') return process.platform === 'linux' ? `/dev/video${source}` : `camera ${source}`;
  return redactCredentials(source);
}

export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@/\s]*@/gi, '$1:***@');
}

// ---------------------------------------------------------------------------------------------------------------
// Protocol between the parent and the capture process
//
// The child writes records on fd 3 (its stdout stays free for whatever the native libraries print). Each record is
// a 32-byte header and a payload:
//   0  u8   kind (RecordKind)
//   1  u8×3 reserved, 0
//   4  u32  payload length in bytes
//   8  f64  capturedAt: when the frame was read, ms since the epoch
//   16 f64  positionMs: the frame's position in a video file, -1 when unknown (live streams, devices)
//   24 u32  index: the frame's number since the source was opened, from 0
//   28 u32  dropped: frames the child has dropped so far because the parent had not taken the previous one
// all little-endian. The payload is the JPEG of a frame, or UTF-8 JSON for the other kinds. A child sends Opening
// (OpenCV loaded), then Opened or Fail, then Frames (and Alive while it reads frames it does not send), and last End
// or Fail before it exits with a CaptureExit code.
// In pull mode the parent writes one byte (PULL_REQUEST) on the child's stdin per frame it wants; the child answers
// each with one frame or an 'end' record. Closing the child's stdin asks it to exit.
// The capture settings travel in the CAPTURE_ENV environment variable (JSON), not on the command line, where a
// stream URL's password would be visible to every user of the unit.

export const HEADER_BYTES = 32;
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
export const PULL_REQUEST = 0x6e; // 'n'
export const CAPTURE_ENV = 'ALPR_EDGE_CAPTURE';

export enum RecordKind {
  /** OpenCV is loaded; the source is being opened. No payload. */
  Opening = 5,
  /** Payload: JPEG. */
  Frame = 1,
  /** Payload: CaptureOpened. */
  Opened = 2,
  /** The source has no more frames. Payload: { reason }. */
  End = 3,
  /** The source could not be opened or read. Payload: { message }. */
  Fail = 4,
  /** Frames are being read but none sent lately (maxFps, or the parent busy): the source has not stalled. */
  Alive = 6,
}

/** How the capture process exits; the parent tells "cannot open" from "ended" from a crash. */
export enum CaptureExit {
  Stopped = 0,
  CannotOpen = 10,
  Ended = 11,
  ReadFailed = 12,
}

export interface CaptureRequest {
  source: string | number;
  /** 'live': read continuously, send admitted frames. 'pull': send one frame per request on stdin. */
  mode: 'live' | 'pull';
  width: number;
  height: number;
  jpegQuality: number;
  /** Live mode only: most frames per second sent. */
  maxFps: number;
}

export interface CaptureOpened {
  width: number;
  height: number;
  /** Frames per second the source announces (0: unknown). */
  fps: number;
  /** Frames in a video file (0: unknown or live). */
  frameCount: number;
  backend: string;
}

export type CaptureRecord =
  | { kind: RecordKind.Frame; capturedAt: number; positionMs: number; index: number; dropped: number; image: Buffer }
  | { kind: RecordKind.Opening }
  | { kind: RecordKind.Alive; index: number; dropped: number }
  | { kind: RecordKind.Opened; opened: CaptureOpened }
  | { kind: RecordKind.End; reason: string }
  | { kind: RecordKind.Fail; message: string };

export function encodeRecord(
  kind: RecordKind,
  payload: Buffer,
  meta: { capturedAt?: number; positionMs?: number; index?: number; dropped?: number } = {},
): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(kind, 0);
  header.writeUInt32LE(payload.length, 4);
  header.writeDoubleLE(meta.capturedAt ?? 0, 8);
  header.writeDoubleLE(meta.positionMs ?? -1, 16);
  header.writeUInt32LE(meta.index ?? 0, 24);
  header.writeUInt32LE(meta.dropped ?? 0, 28);
  return Buffer.concat([header, payload]);
}

/** Splits the child's byte stream into records; holds at most one partial record. */
export class RecordReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Feeds bytes; returns the records completed by them. Throws on a malformed stream. */
  push(chunk: Buffer): CaptureRecord[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const records: CaptureRecord[] = [];
    while (this.buffered >= HEADER_BYTES) {
      const head = this.peek(HEADER_BYTES);
      const length = head.readUInt32LE(4);
      if (length > MAX_PAYLOAD_BYTES) throw new Error(`capture protocol: record of ${length} bytes`);
      if (this.buffered < HEADER_BYTES + length) break;
      const whole = this.take(HEADER_BYTES + length);
      records.push(decodeRecord(whole.subarray(0, HEADER_BYTES), whole.subarray(HEADER_BYTES)));
    }
    return records;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    // a frame handed on must not pin the (possibly larger) buffer it was read into
    return Buffer.from(all.subarray(0, n));
  }
}

function decodeRecord(head: Buffer, payload: Buffer): CaptureRecord {
  const kind = head.readUInt8(0);
  switch (kind) {
    case RecordKind.Opening:
      return { kind };
    case RecordKind.Alive:
      return { kind, index: head.readUInt32LE(24), dropped: head.readUInt32LE(28) };
    case RecordKind.Frame:
      return {
        kind,
        capturedAt: head.readDoubleLE(8),
        positionMs: head.readDoubleLE(16),
        index: head.readUInt32LE(24),
        dropped: head.readUInt32LE(28),
        image: payload,
      };
    case RecordKind.Opened:
      return { kind, opened: JSON.parse(payload.toString('utf8')) as CaptureOpened };
    case RecordKind.End:
      return { kind, reason: (JSON.parse(payload.toString('utf8')) as { reason: string }).reason };
    case RecordKind.Fail:
      return { kind, message: (JSON.parse(payload.toString('utf8')) as { message: string }).message };
    default:
      throw new Error(`capture protocol: unknown record kind ${kind}`);
  }
}
