import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encrypted image files: AES-256-GCM with a random 12-byte nonce per file, and the file's path relative to the
 * images folder as associated data, so a file moved or copied to another read's path fails to open instead of
 * showing the wrong car. Layout: 'AEI1' (4 bytes) | nonce (12) | tag (16) | ciphertext.
 */

export const IMAGE_MAGIC = Buffer.from('AEI1', 'latin1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const IMAGE_HEADER_BYTES = IMAGE_MAGIC.length + NONCE_BYTES + TAG_BYTES;

export class ImageIntegrityError extends Error {
  override name = 'ImageIntegrityError';
}

/** The associated data of a file: its relative path with '/' separators, whatever the platform wrote. */
function associatedData(rel: string): Buffer {
  return Buffer.from(rel.split('\\').join('/'), 'utf8');
}

export function isEncryptedImage(file: Buffer): boolean {
  return file.length >= IMAGE_MAGIC.length && file.subarray(0, IMAGE_MAGIC.length).equals(IMAGE_MAGIC);
}

export function encryptImage(key: Buffer, rel: string, plain: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associatedData(rel));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([IMAGE_MAGIC, nonce, cipher.getAuthTag(), body]);
}

/** The plain bytes of an encrypted image file stored at `rel`; throws ImageIntegrityError if anything is off. */
export function decryptImage(key: Buffer, rel: string, file: Buffer): Buffer {
  if (!isEncryptedImage(file) || file.length < IMAGE_HEADER_BYTES) {
    throw new ImageIntegrityError(`the image file ${rel} is not an encrypted image (no 'AEI1' header): it was replaced or never encrypted`);
  }
  const nonce = file.subarray(IMAGE_MAGIC.length, IMAGE_MAGIC.length + NONCE_BYTES);
  const tag = file.subarray(IMAGE_MAGIC.length + NONCE_BYTES, IMAGE_HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(associatedData(rel));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(file.subarray(IMAGE_HEADER_BYTES)), decipher.final()]);
  } catch {
    throw new ImageIntegrityError(
      `the image file ${rel} failed its integrity check: it was altered, moved from another path, or encrypted with another key`,
    );
  }
}
