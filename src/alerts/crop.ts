import type { CropImage } from './mqtt-topics.js';
import type { AlertDelivery } from './types.js';

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

/** Crops kept ready for alerts being retried. */
const KEPT_CROPS = 16;

/** The crop each alert carries (see cropMaxBytes), made once per alert and kept while it is retried. */
export class AlertCrops {
  private readonly crops = new Map<string, CropImage | null>();

  constructor(
    /** Reads an image of the store by its reference (cropRef); without it alerts carry no crop. */
    private readonly readImage: ((ref: string) => Promise<Buffer>) | undefined,
    private readonly maxBytes: number,
    private readonly logger: { warn(obj: object, msg: string): void } | undefined,
  ) {}

  async cropFor(d: AlertDelivery): Promise<CropImage | null> {
    const ref = d.alert.cropRef;
    const read = this.readImage;
    if (ref === null || read === undefined || this.maxBytes === 0) return null;
    const kept = this.crops.get(d.alert.id);
    if (kept !== undefined) return kept;
    let crop: CropImage | null = null;
    try {
      crop = await cropForAlert(await read(ref), this.maxBytes);
      if (crop === null) this.logger?.warn({ alert: d.alert.id }, 'MQTT: the plate crop cannot be made to fit alerts.mqtt.cropMaxBytes; alert sent without it');
    } catch (err) {
      this.logger?.warn({ alert: d.alert.id, err: (err as Error).message }, 'MQTT: the plate crop cannot be read; alert sent without it');
    }
    this.crops.set(d.alert.id, crop);
    if (this.crops.size > KEPT_CROPS) this.crops.delete(this.crops.keys().next().value as string);
    return crop;
  }

  /** The alert is delivered: its crop is not needed again. */
  forget(alertId: string): void {
    this.crops.delete(alertId);
  }
}
