/**
 * Reads an image's format and size from its first bytes, before anything is decoded, so that a file that is not
 * an image, a truncated JPEG or a picture too large for memory is refused with a clear message.
 */
export interface ImageHeader {
  format: 'jpeg' | 'png' | 'bmp' | 'tiff' | 'webp';
  width?: number;
  height?: number;
}

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

export function sniffImage(buf: Buffer): ImageHeader {
  if (buf.length === 0) throw new ImageError('empty file');
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return jpegHeader(buf);
  if (buf.length >= 24 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { format: 'png', width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  }
  if (buf.length >= 26 && buf[0] === 0x42 && buf[1] === 0x4d) {
    return { format: 'bmp', width: Math.abs(buf.readInt32LE(18)), height: Math.abs(buf.readInt32LE(22)) };
  }
  if (buf.length >= 4 && (buf.subarray(0, 4).toString('latin1') === 'II*\0' || buf.subarray(0, 4).toString('latin1') === 'MM\0*')) {
    return { format: 'tiff' };
  }
  if (buf.length >= 12 && buf.subarray(0, 4).toString('latin1') === 'RIFF' && buf.subarray(8, 12).toString('latin1') === 'WEBP') {
    return { format: 'webp' };
  }
  throw new ImageError('not an image (unknown format: expected JPEG, PNG, BMP, TIFF or WebP)');
}

function jpegHeader(buf: Buffer): ImageHeader {
  // A complete JPEG has its end-of-image marker (FF D9) near the end; cameras may append a trailer after it. In the
  // compressed data FF is always followed by 00 or a restart marker, so FF D9 there means the end.
  const tail = buf.subarray(Math.max(0, buf.length - 65536));
  const complete = tail.lastIndexOf(Buffer.from([0xff, 0xd9])) >= 0;
  if (!complete) throw new ImageError('truncated JPEG (no end-of-image marker): the file was cut short');
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = buf[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const length = buf.readUInt16BE(i + 2);
    // Start-of-frame markers C0-CF, except DHT (C4), JPG (C8) and DAC (CC), carry the size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { format: 'jpeg', height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    if (marker === 0xda) break;
    i += 2 + length;
  }
  throw new ImageError('corrupt JPEG: no frame header before the image data');
}
