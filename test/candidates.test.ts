import { describe, expect, it } from 'vitest';
import { alignToGlyphs, confusableWith, rankCandidates, type CharReading } from '../src/recognition/candidates.js';
import { matchFormat, normalizePlate } from '../src/recognition/formats.js';
import { parseHocrChars } from '../src/recognition/ocr.js';

const read = (text: string, p = 0.95): CharReading[] => [...text].map((ch) => ({ choices: [{ ch, p }] }));

describe('plate text post-processing', () => {
  it('normalises case, spaces, dashes and dots', () => {
    expect(normalizePlate(' 7abc-123 ')).toBe('7ABC123');
    expect(normalizePlate('AYO.9034')).toBe('AYO9034');
  });

  it('knows the confusable characters the requirements name', () => {
    for (const [a, b] of [['O', '0'], ['I', '1'], ['B', '8'], ['S', '5'], ['Z', '2'], ['D', '0'], ['G', '6']] as const) {
      expect(confusableWith(a)).toContain(b);
      expect(confusableWith(b)).toContain(a);
    }
  });

  it('keeps what the OCR read first when it fits a layout', () => {
    const c = rankCandidates(read('7ABC123'), 'us', 5);
    expect(c[0]).toMatchObject({ text: '7ABC123', region: 'us' });
    expect(c[0]!.confidence).toBeGreaterThan(90);
    expect(c).toHaveLength(5);
  });

  it('ranks a Brazilian layout above the literal reading when a confusable character breaks it', () => {
    // "AY09034": the doubtful 0 sits where Brazilian plates have a letter.
    const chars = read('AY09034');
    chars[2] = { choices: [{ ch: '0', p: 0.55 }, { ch: '8', p: 0.1 }] };
    const c = rankCandidates(chars, 'br', 10);
    expect(c[0]!.text).toBe('AYO9034');
    expect(c[0]!.region).toBe('br');
  });

  it('offers confusion alternates in the top N for an uncertain character', () => {
    const chars = read('8OB5120');
    chars[0] = { choices: [{ ch: '8', p: 0.8 }] };
    const texts = rankCandidates(chars, 'eu', 10).map((x) => x.text);
    expect(texts[0]).toBe('8OB5120');
    expect(texts).toContain('BOB5120');
  });

  it('writes a US plate\'s letter O as 0, one candidate where two differed only there', () => {
    const chars = read('8OB5120');
    chars[1] = { choices: [{ ch: 'O', p: 0.6 }, { ch: '0', p: 0.35 }] };
    const us = rankCandidates(chars, 'us', 10).map((x) => x.text);
    expect(us[0]).toBe('80B5120');
    expect(us.filter((t) => t === '80B5120')).toHaveLength(1);
    expect(us.some((t) => t.includes('O'))).toBe(false);
    expect(rankCandidates(chars, 'eu', 10)[0]?.text).toBe('8OB5120');
  });

  it("ranks a US plate's doubtful character by its state's layouts where its state was read, never dropping one", () => {
    // "INU656": South Dakota's plates begin with a county number (1NU 656); elsewhere INU 656 is the likelier text.
    const chars = read('INU656');
    chars[0] = { choices: [{ ch: 'I', p: 0.7 }, { ch: '1', p: 0.2 }] };
    expect(rankCandidates(chars, 'us', 5)[0]!.text).toBe('INU656');
    expect(rankCandidates(chars, 'us', 5, 'OH')[0]!.text).toBe('INU656');
    expect(rankCandidates(chars, 'us', 5, 'SD')[0]).toMatchObject({ text: '1NU656', region: 'us' });
    // a clear reading of another layout (a specialty plate) is not overruled
    const clear = read('INU656', 0.99);
    expect(rankCandidates(clear, 'us', 5, 'SD')[0]!.text).toBe('INU656');
    // Maryland's 1AB2345 and A12345: its six-character layout is no reason to drop a doubtful last character
    const md = read('A075307');
    md[6] = { choices: [{ ch: '7', p: 0.4 }] };
    expect(rankCandidates(md, 'us', 5, 'MD')[0]!.text).toBe('A075307');
  });

  it('rejects texts outside the region length bounds', () => {
    expect(rankCandidates(read('AB12'), 'br', 5)).toEqual([]);
    expect(rankCandidates([], 'us', 5)).toEqual([]);
  });

  it('matches the layouts of each region', () => {
    expect(matchFormat('ABC1D23', 'br')?.region).toBe('br-mercosur');
    expect(matchFormat('AB123CD', 'eu')?.region).toBe('eu-fr-it');
    expect(matchFormat('7ABC123', 'us')).toBeDefined();
    expect(matchFormat('ABCDEFG', 'br')).toBeUndefined();
  });

  it('reads characters and LSTM alternatives from hOCR', () => {
    const hocr = `<span class='ocrx_cinfo' title='x_bboxes 1 2 3 4; x_conf 90.5'>5</span>
      <span class='ocrx_cinfo' id='lstm_choices_1_1_1'>
       <span class='ocrx_cinfo' id='choice_1_1_1' title='x_confs 90.5'>5</span>
       <span class='ocrx_cinfo' id='choice_1_1_2' title='x_confs 50'>S</span>
      </span>
      <span class='ocrx_cinfo' title='x_bboxes 5 2 8 4; x_conf 70'>B</span>`;
    const chars = parseHocrChars(hocr);
    expect(chars.map((c) => c.choices[0]!.ch).join('')).toBe('5B');
    expect(chars[0]!.choices.map((c) => c.ch)).toEqual(['5', 'S']);
    expect(chars[0]!.choices[1]!.p).toBeCloseTo(0.095 * 0.5, 3);
  });

  it('aligns OCR characters to glyphs: a glyph read twice keeps one reading, a skipped glyph is reported empty', () => {
    const glyphs = [{ x0: 0, x1: 30 }, { x0: 40, x1: 70 }, { x0: 80, x1: 110 }];
    const chars: CharReading[] = [
      { choices: [{ ch: 'O', p: 0.9 }], x0: 0, x1: 14 },
      { choices: [{ ch: 'D', p: 0.6 }], x0: 15, x1: 30 },
      { choices: [{ ch: '9', p: 0.8 }], x0: 40, x1: 70 },
    ];
    const aligned = alignToGlyphs(chars, glyphs, 40)!;
    expect(aligned.map((g) => g.map((c) => c.choices[0]!.ch).join(''))).toEqual(['O', '9', '']);
    expect(aligned[0]![0]!.choices.map((c) => c.ch)).toContain('D');
  });
});
