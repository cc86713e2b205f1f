import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('logging', () => {
  it('writes one JSON object per line with level, time and message', () => {
    const { lines, stream } = capture();
    createLogger('info', stream).info({ image: 'a.jpg', plates: 2 }, 'read');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, name: 'alpr-edge', image: 'a.jpg', plates: 2, msg: 'read' });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('never writes secrets, at the top level or nested', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    log.info({ password: 'hunter2', token: 'abc.def', upstream: { token: 'xyz', url: 'https://central' } }, 'login');
    log.info({ headers: { authorization: 'Bearer s3cret' } }, 'request');
    const text = JSON.stringify(lines);
    for (const secret of ['hunter2', 'abc.def', 'xyz', 's3cret']) expect(text).not.toContain(secret);
    expect(text).toContain('https://central');
    expect(text).toContain('[redacted]');
  });

  it('honours the configured level', () => {
    const { lines, stream } = capture();
    const log = createLogger('warn', stream);
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });
});
