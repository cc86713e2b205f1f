import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.js';
import { CentralError, NAME_RE } from './records.js';
import { HttpError } from './http.js';

/** Who may push as which unit: bearer tokens (a list, or a file read again when it changes), or the client certificate's CN. */

interface TokenEntry {
  unit: string;
  expiresAt?: number;
}

/** Who is asking: a unit id, or null when the server has no authentication configured (a loopback demo). */
export type Identity = { unit: string | null; via: 'token' | 'certificate' | 'none' };

const sha = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

export class Tokens {
  /** Keyed by the token's SHA-256, so that a lookup does not time the comparison of secrets. */
  private byHash = new Map<string, TokenEntry>();
  private fileStamp = '';

  constructor(
    private readonly list: Array<{ token: string; unit: string; expiresAt?: number }> | undefined,
    private readonly file: string | undefined,
    private readonly log: Logger,
  ) {
    for (const t of list ?? []) this.byHash.set(sha(t.token).toString('hex'), { unit: t.unit, expiresAt: t.expiresAt });
    if (file) this.reload(true);
  }

  get configured(): boolean {
    return this.list !== undefined || this.file !== undefined;
  }

  /** Re-reads the tokens file when it changed; a file that cannot be read keeps the tokens read before. */
  private reload(first = false): void {
    if (!this.file) return;
    let stamp: string;
    let text: string;
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (stamp === this.fileStamp) return;
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      const msg = `cannot read the tokens file ${this.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      if (first) throw new CentralError(msg);
      this.log.error({ file: this.file }, `${msg}; the tokens read before stay in use`);
      return;
    }
    const next = new Map<string, TokenEntry>();
    for (const t of this.list ?? []) next.set(sha(t.token).toString('hex'), { unit: t.unit, expiresAt: t.expiresAt });
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const [unit, token, expires, ...more] = line.split(/\s+/);
      const where = `${this.file}:${i + 1}`;
      if (!unit || !token || more.length || !NAME_RE.test(unit)) {
        this.log.warn({ where }, 'tokens file: a line is `<unit> <token> [expires ISO date]`; this one is left out');
        return;
      }
      let expiresAt: number | undefined;
      if (expires !== undefined) {
        expiresAt = Date.parse(expires);
        if (Number.isNaN(expiresAt)) {
          this.log.warn({ where, expires }, 'tokens file: the expiry is not an ISO date; the token is left out');
          return;
        }
      }
      next.set(sha(token).toString('hex'), { unit, expiresAt });
    });
    this.byHash = next;
    this.fileStamp = stamp;
    this.log.info({ file: this.file, tokens: next.size }, 'tokens file read');
  }

  lookup(token: string): TokenEntry | undefined {
    this.reload();
    return this.byHash.get(sha(token).toString('hex'));
  }
}

export function identify(req: http.IncomingMessage, tokens: Tokens, mutualTls: boolean, now: number): Identity {
  const socket = req.socket as Partial<TLSSocket>;
  let cn: string | null = null;
  if (mutualTls && socket.authorized && typeof socket.getPeerCertificate === 'function') {
    const subjectCn = socket.getPeerCertificate().subject?.CN as string | string[] | undefined;
    cn = Array.isArray(subjectCn) ? (subjectCn[0] ?? null) : (subjectCn ?? null);
  }
  if (tokens.configured) {
    const auth = req.headers.authorization;
    const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    if (!m) throw new HttpError(401, 'a bearer token is required (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' });
    const entry = tokens.lookup(m[1]!);
    if (!entry) throw new HttpError(401, 'unknown token', { 'www-authenticate': 'Bearer error="invalid_token"' });
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
      throw new HttpError(401, 'token expired', { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    return { unit: entry.unit, via: 'token' };
  }
  if (mutualTls) {
    if (!cn) throw new HttpError(401, 'the client certificate names no unit (subject CN)');
    return { unit: cn, via: 'certificate' };
  }
  return { unit: null, via: 'none' };
}
