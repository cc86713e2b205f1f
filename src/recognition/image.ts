import { readFile, stat } from 'node:fs/promises';
import { cv, type Mat } from './cv.js';
import { ImageError, sniffImage } from './image-header.js';

export { ImageError };

export interface DecodeLimits {
  maxImagePixels: number;
  maxImageBytes: number;
}

/** Smallest image that can hold a readable plate. */
const MIN_SIDE = 16;

/** Decodes an encoded image into a grey Mat (all the recognizer uses; JPEG decodes twice as fast so), refusing what is not an image, is cut short, or is too big. */
export function decodeImage(buf: Buffer, limits: DecodeLimits): Mat {
  if (buf.length > limits.maxImageBytes) {
    throw new ImageError(`file too large (${buf.length} bytes; the limit is recognition.maxImageBytes = ${limits.maxImageBytes})`);
  }
  const header = sniffImage(buf);
  if (header.width !== undefined && header.height !== undefined) checkSize(header.width, header.height, limits);
  let mat: Mat;
  try {
    mat = cv.imdecode(buf, cv.IMREAD_GRAYSCALE);
  } catch (err) {
    throw new ImageError(`cannot decode ${header.format.toUpperCase()}: ${(err as Error).message}`);
  }
  if (mat.empty || mat.rows === 0 || mat.cols === 0) throw new ImageError(`cannot decode ${header.format.toUpperCase()}: corrupt data`);
  checkSize(mat.cols, mat.rows, limits);
  return mat;
}

function checkSize(width: number, height: number, limits: DecodeLimits): void {
  if (width < MIN_SIDE || height < MIN_SIDE) {
    throw new ImageError(`image too small (${width}x${height}); a plate needs at least ${MIN_SIDE}x${MIN_SIDE} pixels`);
  }
  if (width * height > limits.maxImagePixels) {
    throw new ImageError(
      `image too large (${width}x${height} = ${width * height} pixels; the limit is recognition.maxImagePixels = ${limits.maxImagePixels})`,
    );
  }
}

export async function readImageFile(file: string, limits: DecodeLimits): Promise<Mat> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageError(code === 'ENOENT' ? 'no such file' : `cannot read: ${(err as Error).message}`);
  }
  if (!info.isFile()) throw new ImageError('not a regular file');
  if (info.size > limits.maxImageBytes) {
    throw new ImageError(`file too large (${info.size} bytes; the limit is recognition.maxImageBytes = ${limits.maxImageBytes})`);
  }
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new ImageError(`cannot read: ${(err as Error).message}`);
  }
  return decodeImage(buf, limits);
}
