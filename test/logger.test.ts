import { describe, expect, it } from 'vitest';
import { capturePino } from './helpers.js';

describe('logging', () => {
  it('writes one JSON object per line with level, time and message', () => {
    const { lines, log } = capturePino('info');
    log.info({ image: 'a.jpg', plates: 2 }, 'read');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, name: 'alpr-edge', image: 'a.jpg', plates: 2, msg: 'read' });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('never writes secrets, at the top level or nested', () => {
    const { lines, log } = capturePino('info');
    log.info({ password: 'hunter2', token: 'abc.def', upstream: { token: 'xyz', url: 'https://central' } }, 'login');
    log.info({ headers: { authorization: 'Bearer s3cret' } }, 'request');
    const text = JSON.stringify(lines);
    for (const secret of ['hunter2', 'abc.def', 'xyz', 's3cret']) expect(text).not.toContain(secret);
    expect(text).toContain('https://central');
    expect(text).toContain('[redacted]');
  });

  it('honours the configured level', () => {
    const { lines, log } = capturePino('warn');
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });
});
