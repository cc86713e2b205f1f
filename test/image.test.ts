import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../src/recognition/image.js';
import { ImageError, sniffImage } from '../src/recognition/image-header.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'test-fixtures');
const jpeg = readFileSync(path.join(FIXTURES, 'plates', 'us-ca-clean.jpg'));
const limits = { maxImagePixels: 50_000_000, maxImageBytes: 64 * 1024 * 1024 };

describe('image headers and decoding', () => {
  it('reads a JPEG size from its header', () => {
    expect(sniffImage(jpeg)).toEqual({ format: 'jpeg', width: 960, height: 540 });
  });

  it('accepts a JPEG with a trailer after its end-of-image marker (some cameras append one)', () => {
    const withTrailer = Buffer.concat([jpeg, Buffer.alloc(8000, 0x41)]);
    expect(sniffImage(withTrailer).format).toBe('jpeg');
    const mat = decodeImage(withTrailer, limits);
    expect([mat.cols, mat.rows]).toEqual([960, 540]);
  });

  it('refuses a JPEG cut short, saying so', () => {
    expect(() => sniffImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.7)))).toThrow(/truncated JPEG/);
  });

  it('refuses what is not an image, and an empty file', () => {
    expect(() => sniffImage(Buffer.from('plate,state\n7ABC123,CA\n'))).toThrow(ImageError);
    expect(() => sniffImage(Buffer.alloc(0))).toThrow(/empty file/);
  });

  it('refuses a file over the byte limit before decoding it', () => {
    expect(() => decodeImage(jpeg, { ...limits, maxImageBytes: 1000 })).toThrow(/file too large/);
  });
});
