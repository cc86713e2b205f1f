import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cv } from '../src/recognition/cv.js';
import { OcrPool, OcrSetupError, OcrTimeoutError } from '../src/recognition/ocr.js';

/** A clean line of plate characters, drawn with OpenCV's own font. */
function lineImage(text: string): Buffer {
  const img = new cv.Mat(80, 40 + 42 * text.length, cv.CV_8UC1, 255);
  img.putText(text, new cv.Point2(20, 62), cv.FONT_HERSHEY_SIMPLEX, 1.8, new cv.Vec3(0, 0, 0), 5);
  return cv.imencode('.png', img);
}

describe('OCR pool', () => {
  let pool: OcrPool;
  beforeAll(async () => {
    pool = await OcrPool.create(2, '');
  });
  afterAll(async () => {
    await pool.close();
  });

  it('reads a line of plate characters with per-character alternatives', async () => {
    const line = await pool.readLine(lineImage('AB12CD'));
    expect(line.text).toBe('AB12CD');
    expect(line.chars).toHaveLength(6);
    expect(line.confidence).toBeGreaterThan(50);
  });

  it('reads concurrently across its workers, each result with its own image', async () => {
    const texts = ['7XYZ123', 'KLM4567', 'PRS8901', 'TUV2345'];
    const lines = await Promise.all(texts.map((t) => pool.readLine(lineImage(t))));
    expect(lines.map((l) => l.text)).toEqual(texts);
  });

  it('refuses a job over its time limit, replaces the worker, and goes on reading', async () => {
    await expect(pool.readLine(lineImage('AB12CD'), 1)).rejects.toBeInstanceOf(OcrTimeoutError);
    const after = await Promise.all([pool.readLine(lineImage('HJK5521')), pool.readLine(lineImage('4XYZ789'))]);
    expect(after.map((l) => l.text)).toEqual(['HJK5521', '4XYZ789']);
  });

  it('says clearly when the traineddata folder has no eng.traineddata', async () => {
    await expect(OcrPool.create(1, '/nonexistent/tessdata')).rejects.toThrow(OcrSetupError);
    await expect(OcrPool.create(1, '/nonexistent/tessdata')).rejects.toThrow(/eng\.traineddata/);
  });
});
