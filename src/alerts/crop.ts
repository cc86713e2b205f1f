import type { CropImage } from './mqtt-topics.js';

/**
 * The plate crop an MQTT alert carries (docs/mqtt.md, "The crop image"): the read's crop JPEG as stored, or,
 * when it is larger than the bound, the same picture scaled down and encoded again until it fits.
 */

/** Width and height from a JPEG's frame header (SOFn), or null when the bytes are not a JPEG. */
export function jpegSize(bytes: Buffer): { width: number; height: number } | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    const length = bytes.readUInt16BE(i + 2);
    if (length < 2) return null;
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > bytes.length) return null;
      const height = bytes.readUInt16BE(i + 5);
      const width = bytes.readUInt16BE(i + 7);
      return width > 0 && height > 0 ? { width, height } : null;
    }
    if (marker === 0xda || marker === 0xd9) return null; // image data before any frame header
    i += 2 + length;
  }
  return null;
}

/**
 * The crop for an alert: the JPEG as it is when it fits `maxBytes`, else scaled down (OpenCV, loaded only then)
 * until it does; null when the bytes are not a JPEG or cannot be made to fit.
 */
export async function cropForAlert(jpeg: Buffer, maxBytes: number): Promise<CropImage | null> {
  if (maxBytes <= 0) return null;
  const size = jpegSize(jpeg);
  if (size === null) return null;
  if (jpeg.length <= maxBytes) return { format: 'jpeg', ...size, base64: jpeg.toString('base64') };
  const { cv } = await import('../recognition/cv.js');
  let image;
  try {
    image = cv.imdecode(jpeg, cv.IMREAD_UNCHANGED);
  } catch {
    return null;
  }
  let scale = Math.sqrt(maxBytes / jpeg.length) * 0.9;
  for (let attempt = 0; attempt < 6; attempt++) {
    const width = Math.max(16, Math.round(image.cols * scale));
    const height = Math.max(8, Math.round(image.rows * scale));
    const smaller = image.resize(height, width, 0, 0, cv.INTER_AREA);
    const bytes = cv.imencode('.jpg', smaller, [cv.IMWRITE_JPEG_QUALITY, 85]);
    if (bytes.length <= maxBytes) return { format: 'jpeg', width, height, base64: bytes.toString('base64') };
    if (width === 16 || height === 8) return null;
    scale *= Math.sqrt(maxBytes / bytes.length) * 0.9;
  }
  return null;
}
