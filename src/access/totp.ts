import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA-1, 6 digits, 30-second steps, the step
 * before and after accepted for clock drift. These are the parameters every authenticator app uses by default,
 * so the otpauth:// URL below needs no app-specific settings.
 */

export const TOTP_DIGITS = 6;
export const TOTP_STEP_SECONDS = 30;
/** Steps either side of the current one that are still accepted (clock drift between unit and phone). */
export const TOTP_WINDOW = 1;
/** 160 bits, the HMAC-SHA-1 block-friendly size RFC 4226 recommends. */
const SECRET_BYTES = 20;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, upper case, no padding (what authenticator apps expect in a secret). */
export function base32Encode(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes base32, ignoring case, spaces, dashes and padding (secrets are often typed in groups). */
export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) throw new Error(`not a base32 character: ${JSON.stringify(ch)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

/** A new random secret, base32. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES));
}

/** RFC 4226 HOTP value for one counter. */
export function hotp(key: Buffer, counter: number, digits = TOTP_DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The 30-second step a time (ms since the epoch) falls in. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_STEP_SECONDS);
}

/** The code for a base32 secret at a time (ms since the epoch). */
export function totpCode(secret: string, nowMs: number, digits = TOTP_DIGITS): string {
  return hotp(base32Decode(secret), totpStep(nowMs), digits);
}

export type TotpCheck =
  | { ok: true; step: number }
  | { ok: false; reason: 'wrong' | 'reused' };

/**
 * Checks a code against the steps around `nowMs`. A code whose step is not after `lastUsedStep` (the step of the
 * last code accepted for this user) is refused as reused: a code seen over a shoulder or in a log cannot be
 * replayed within its window. On success, store the returned step as the user's new `lastUsedStep`.
 */
export function verifyTotp(secret: string, code: string, nowMs: number, lastUsedStep = 0): TotpCheck {
  const given = code.replace(/\s/g, '');
  if (!/^\d+$/.test(given) || given.length !== TOTP_DIGITS) return { ok: false, reason: 'wrong' };
  const key = base32Decode(secret);
  const current = totpStep(nowMs);
  let reused = false;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    if (timingSafeEqual(Buffer.from(hotp(key, step)), Buffer.from(given))) {
      if (step > lastUsedStep) return { ok: true, step };
      reused = true;
    }
  }
  return { ok: false, reason: reused ? 'reused' : 'wrong' };
}

/** The otpauth:// URL an authenticator app reads (from a QR code or pasted) to enrol the secret. */
export function otpauthUrl(opts: { issuer: string; account: string; secret: string }): string {
  const label = `${encodeURIComponent(opts.issuer)}:${encodeURIComponent(opts.account)}`;
  // encodeURIComponent, not URLSearchParams: some apps show a "+" for a space literally
  const q = [
    ['secret', opts.secret],
    ['issuer', opts.issuer],
    ['algorithm', 'SHA1'],
    ['digits', String(TOTP_DIGITS)],
    ['period', String(TOTP_STEP_SECONDS)],
  ]
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');
  return `otpauth://totp/${label}?${q}`;
}
