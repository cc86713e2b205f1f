import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORMATS, Problems, type FileRecord, type FormatName } from '../src/hotlist/formats/index.js';
import type { DelimitedSettings } from '../src/hotlist/formats/types.js';
import { readLines } from '../src/hotlist/formats/text-file.js';
import { normalisePlate } from '../src/hotlist/plate.js';

/** Each parser on the sample files in test-fixtures/hotlists, good and broken, through the shared line reader. */

const DIR = path.join(import.meta.dirname, '..', 'test-fixtures', 'hotlists');
const CSV_DEFAULT: DelimitedSettings = { delimiter: 'comma', header: true, columns: { plate: 'plate' } };

function parseFile(file: string, format: FormatName, delimited: DelimitedSettings = CSV_DEFAULT) {
  const problems = new Problems();
  const parser = FORMATS[format].create({ fileName: file, delimited });
  const records: Array<FileRecord & { line: number }> = [];
  const last = readLines(path.join(DIR, file), problems, (text, n) => {
    const r = parser.line(text, n, problems);
    if (r) records.push({ ...r, line: n });
  });
  parser.end(last, problems);
  return { records, problems: problems.list };
}

const plates = (records: FileRecord[]) => records.map((r) => normalisePlate(r.plate, { wildcards: true })).map((n) => ('plate' in n ? n.plate : n.error));

describe('NCIC fixed-width extract', () => {
  it('reads each field from its columns, with the list code and the vehicle description', () => {
    const { records, problems } = parseFile('ncic-extract.txt', 'ncic');
    expect(problems).toEqual([]);
    expect(plates(records)).toEqual(['7ABC123', '5KDW837', '8XYZ001', '4GHJ552', 'ABC1234', '000', '6TRK9O2']);
    expect(records[0]).toMatchObject({
      state: 'CA',
      code: 'V',
      reason: 'stolen vehicle',
      listedAt: Date.UTC(2026, 10, 1),
      details: { tagYear: '2027', licenseType: 'PC', vehicleYear: '2019', make: 'TOYT', model: 'CAM', style: '4D', colour: 'BLK' },
    });
    expect(records[3]).toMatchObject({ code: 'A', reason: 'Amber alert', state: 'AZ', details: { colour: 'RED/BLK' } });
    // a record cut after its licence type is complete (trailing blanks are often trimmed)
    expect(records[2]).toMatchObject({ code: 'P', state: 'NV', details: { tagYear: '2027', licenseType: 'PC' } });
    expect(records[2]!.details).not.toHaveProperty('make');
  });

  it('reports every bad line with its number and what is wrong', () => {
    const { problems } = parseFile('broken/ncic-bad-lines.txt', 'ncic');
    const byLine = new Map<number, string[]>();
    for (const p of problems) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p.message]);
    expect([...byLine.keys()].sort((a, b) => a - b)).toEqual([2, 3, 4, 6, 7]);
    expect(byLine.get(2)!.join()).toMatch(/unknown list code "Z"/);
    expect(byLine.get(3)!.join()).toMatch(/20 characters; at least 39/);
    expect(byLine.get(4)!.join()).toMatch(/incident date "20261340"/);
    expect(byLine.get(6)!.join()).toMatch(/state "N1"/);
    expect(byLine.get(6)!.join()).toMatch(/tag year "20X7"/);
    expect(byLine.get(7)!.join()).toMatch(/outside ASCII/);
    // line 5's plate "5K$W837" is a record: its plate is refused by normalisation (see the importer tests)
    expect(normalisePlate('5K$W837', { wildcards: false })).toEqual({ error: expect.stringMatching(/holds "\$"/) });
  });

  it('a download cut in the middle of a record is reported as truncated', () => {
    const { problems } = parseFile('broken/ncic-truncated.txt', 'ncic');
    expect(problems).toContainEqual({ line: 5, message: expect.stringMatching(/ends in the middle of this line.*truncated/) });
  });
});

describe('California DOJ CLEW files', () => {
  it('svs.tbl (CRLF line ends): stolen vehicles with county and date; the footer count matches', () => {
    const { records, problems } = parseFile('svs.tbl', 'ca-doj');
    expect(problems).toEqual([]);
    expect(plates(records)).toEqual(['7ABC123', '5KDW837', '6TRK902']);
    expect(records[0]).toMatchObject({ state: 'CA', code: 'svs', reason: 'stolen vehicle', listedAt: Date.UTC(2026, 10, 1), details: { county: '19' } });
    expect(records[2]).toMatchObject({ listedAt: null, details: { county: '37' } });
  });

  it('sfr.tbl and slr.tbl take their kind from the file name', () => {
    expect(parseFile('sfr.tbl', 'ca-doj').records.map((r) => r.reason)).toEqual(['felony vehicle', 'felony vehicle']);
    const slr = parseFile('slr.tbl', 'ca-doj');
    expect(slr.problems).toEqual([]);
    expect(slr.records.map((r) => [r.code, r.reason])).toContainEqual(['slr', 'stolen plate']);
  });

  it('a footer that does not match the records, or no footer, rejects the file', () => {
    const count = parseFile('broken/clew-count/svs.tbl', 'ca-doj');
    expect(count.problems).toEqual([{ line: 5, message: 'the footer says 4 record(s); the file holds 3' }]);
    const cut = parseFile('broken/clew-truncated/slr.tbl', 'ca-doj');
    expect(cut.problems).toEqual([{ line: 4, message: expect.stringMatching(/no TOTAL RECORD footer after 3 record\(s\): the file is truncated/) }]);
  });

  it('a file without the DATE header is reported on line 1', () => {
    const { problems } = parseFile('ncic-extract.txt', 'ca-doj');
    expect(problems[0]).toMatchObject({ line: 1, message: expect.stringMatching(/expected the header DATEmm\/dd\/yyyy hh:mm/) });
  });
});

describe('delimited text', () => {
  it('CSV with a header: columns by name (any case), quoted fields, other columns kept as details', () => {
    const { records, problems } = parseFile('stolen.csv', 'csv', {
      delimiter: 'comma',
      header: true,
      columns: { plate: 'plate', state: 'STATE', reason: 'Reason', caseNumber: 'Case' },
    });
    expect(problems).toEqual([]);
    expect(plates(records)).toEqual(['7ABC123', '5KDW837', '8XYZ001']);
    expect(records[1]).toMatchObject({ state: 'CA', reason: 'felony vehicle, armed', caseNumber: '26-000456', details: { Make: 'Honda "Civic"' } });
    expect(records[2]).toMatchObject({ caseNumber: null, details: null });
  });

  it('semicolons without a header: columns by number; partial plates allowed', () => {
    const { records, problems } = parseFile('partials-semicolon.txt', 'csv', {
      delimiter: 'semicolon',
      header: false,
      columns: { plate: 1, state: 2, reason: 3 },
    });
    expect(problems).toEqual([]);
    expect(plates(records)).toEqual(['7AB?12*', '*K9X*', '2FAST4U']);
    expect(records[0]).toMatchObject({ state: 'CA', reason: 'robbery, witness partial' });
    expect(records[1]!.state).toBeNull();
  });

  it('tab separated, plate not in the first column', () => {
    const { records, problems } = parseFile('wanted.tsv', 'csv', { delimiter: 'tab', header: true, columns: { plate: 'plate', state: 'state', caseNumber: 'case' } });
    expect(problems).toEqual([]);
    expect(records.map((r) => [r.plate, r.state, r.caseNumber])).toEqual([
      ['6TRK902', 'CA', '26-1'],
      ['4GHJ552', 'AZ', '26-2'],
    ]);
  });

  it('an unclosed quote, a short line and a bad state are each reported on their line', () => {
    const { problems } = parseFile('broken/stolen-bad.csv', 'csv', { delimiter: 'comma', header: true, columns: { plate: 'Plate', state: 'State' } });
    expect(problems).toEqual([
      { line: 3, message: expect.stringMatching(/quoted field is not closed/) },
      { line: 4, message: '3 field(s); the header has 5' },
      { line: 5, message: 'state "CALIFORNIA" is not a two-letter code' },
    ]);
  });

  it('a mapped column the header lacks is one clear problem, naming the columns there are', () => {
    const { problems, records } = parseFile('stolen.csv', 'csv', { delimiter: 'comma', header: true, columns: { plate: 'tag' } });
    expect(records).toEqual([]);
    expect(problems).toEqual([{ line: 1, message: 'the header has no column "tag" for the plate (columns: Plate, State, Reason, Case, Make)' }]);
  });
});

describe('plain lines and damaged files', () => {
  it('one plate per line; comments and blank lines skipped; case, spaces and dashes normalised', () => {
    const { records, problems } = parseFile('plates.txt', 'lines');
    expect(problems).toEqual([]);
    expect(plates(records)).toEqual(['7ABC123', '5KDW837', '8XYZ001', '7AB?12*']);
  });

  it('a Latin-1 file is not UTF-8 text: the line is named', () => {
    const { problems } = parseFile('broken/plates-latin1.txt', 'lines');
    expect(problems).toEqual([{ line: 3, message: expect.stringMatching(/not UTF-8 text/) }]);
  });

  it('a binary file is refused line by line as binary data', () => {
    const { problems, records } = parseFile('broken/binary.bin', 'lines');
    expect(records).toEqual([]);
    expect(problems.map((p) => p.line)).toEqual([1, 2, 3]); // the fixture holds bytes 0-63, a line end among them
    for (const p of problems) expect(p.message).toMatch(/binary data|not UTF-8/);
  });

  it('an empty file is a problem of the file as a whole', () => {
    expect(parseFile('broken/empty.txt', 'lines').problems).toEqual([{ line: 0, message: 'the file is empty' }]);
  });

  it('a UTF-8 byte order mark is not part of the first plate', () => {
    const problems = new Problems();
    const lines: string[] = [];
    readLines(Buffer.from('\ufeff7ABC123\r\n5KDW837\n', 'utf8'), problems, (t) => lines.push(t));
    expect(lines).toEqual(['7ABC123', '5KDW837']);
    expect(problems.list).toEqual([]);
  });
});

describe('normalisation', () => {
  it('upper case, without spaces and dashes; only A-Z and 0-9', () => {
    expect(normalisePlate(' 7abc-12 3 ', { wildcards: false })).toEqual({ plate: '7ABC123', wildcard: false });
    expect(normalisePlate('7AB.123', { wildcards: false })).toEqual({ error: expect.stringMatching(/holds "\."/) });
    expect(normalisePlate('ABCDEFGHIJK', { wildcards: false })).toEqual({ error: expect.stringMatching(/11 characters; at most 10/) });
  });

  it('partial plates: ? and * only where allowed, runs of * collapsed, at least 3 characters given', () => {
    expect(normalisePlate('7ab?12**', { wildcards: true })).toEqual({ plate: '7AB?12*', wildcard: true });
    expect(normalisePlate('7AB?12*', { wildcards: false })).toEqual({ error: expect.stringMatching(/holds "\?"/) });
    expect(normalisePlate('*1*', { wildcards: true })).toEqual({ error: expect.stringMatching(/gives 1 character\(s\); at least 3/) });
  });
});
