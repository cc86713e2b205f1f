import { describe, expect, it } from 'vitest';
import { namesState, stateFromRows, substringDistance } from '../src/recognition/us-states.js';

const row = (text: string, confidence = 0.95) => ({ text, confidence });

describe("a US plate's state from the words printed on it", () => {
  it('names the state from its name, as printed in any case, with spaces or run together', () => {
    expect(stateFromRows([row('California')])).toMatchObject({ code: 'CA' });
    expect(stateFromRows([row('NEW YORK')])).toMatchObject({ code: 'NY' });
    expect(stateFromRows([row('TEXAS'), row('THE LONE STAR STATE')])).toMatchObject({ code: 'TX' });
    expect(stateFromRows([row('Sunshine State')])).toMatchObject({ code: 'FL' });
    expect(stateFromRows([row('Land of Lincoln')])).toMatchObject({ code: 'IL' });
  });

  it('forgives a misread letter in a long name but not in a short one', () => {
    expect(stateFromRows([row('CALIF0RNIA')])).toMatchObject({ code: 'CA' });
    expect(stateFromRows([row('PENNSYLVAMIA')])).toMatchObject({ code: 'PA' });
    expect(stateFromRows([row('OHTO')])).toBeUndefined();
    expect(stateFromRows([row('UTAH')])).toMatchObject({ code: 'UT' });
  });

  it('a name inside a longer one is the longer state: West Virginia, Arkansas', () => {
    expect(stateFromRows([row('WEST VIRGINIA')])).toMatchObject({ code: 'WV' });
    expect(stateFromRows([row('ARKANSAS')])).toMatchObject({ code: 'AR' });
    expect(stateFromRows([row('Virginia is for Lovers')])).toMatchObject({ code: 'VA' });
    expect(stateFromRows([row('KANSAS')])).toMatchObject({ code: 'KS' });
    expect(stateFromRows([row('ARKANSSA')])).toMatchObject({ code: 'AR' });
    expect(stateFromRows([row('RKANSAS')])).toMatchObject({ code: 'AR' });
    expect(stateFromRows([row('Washington')])).toMatchObject({ code: 'WA' });
    expect(stateFromRows([row('Washington'), row('Evergreen State')])!.confidence).toBeGreaterThan(0.9);
    expect(stateFromRows([row('WASHINGTON DC')])).toMatchObject({ code: 'DC' });
  });

  it('says nothing where no row names a state: plate numbers, dealers, slogans of no one state', () => {
    expect(stateFromRows([])).toBeUndefined();
    expect(stateFromRows([row('7ABC123'), row('SMITH TOYOTA')])).toBeUndefined();
    expect(stateFromRows([row('AMERICA')])).toBeUndefined();
  });

  it("the confidence follows the row's and drops when two states are named", () => {
    const clear = stateFromRows([row('CALIFORNIA', 0.98)])!;
    const faint = stateFromRows([row('CALIFORNIA', 0.5)])!;
    const two = stateFromRows([row('CALIFORNIA', 0.98), row('NEVADA', 0.9)])!;
    expect(clear.confidence).toBeGreaterThan(0.9);
    expect(faint.confidence).toBeLessThan(0.6);
    expect(two.code).toBe('CA');
    expect(two.confidence).toBeLessThan(clear.confidence * 0.6);
  });

  it('small print whose "rn" reads as "m" or "w" as "vv" still names its state', () => {
    // "califomia" is two edits from CALIFORNIA (one is allowed for a name of 10 letters)
    expect(stateFromRows([row('。califomia。', 0.95)])).toMatchObject({ code: 'CA' });
    expect(stateFromRows([row('VVASHINGTON', 0.95)])).toMatchObject({ code: 'WA' });
    expect(stateFromRows([row('CALFOMA', 0.95)])).toBeUndefined();
  });

  it("a read that is a state's name or slogan itself is known for one; a plate that only holds a name's letters is not", () => {
    expect(namesState('MISS0UR')).toBe(true);
    expect(namesState('C0L0RRD0')).toBe(true);
    expect(namesState('TEXAS')).toBe(true);
    expect(namesState('GARDENSTATE')).toBe(true);
    expect(namesState('7ABC123')).toBe(false);
    expect(namesState('IOWAGUY')).toBe(false);
    expect(namesState('SURFSUP')).toBe(false);
    expect(namesState('OHIO')).toBe(false);
  });

  it("a state's name or slogan cut at the row's edge, and a word for the plate's kind, are known for such rows; a plate number is not", () => {
    expect(namesState('WASHI')).toBe(true);
    expect(namesState('SHINGT0N')).toBe(true);
    expect(namesState('MISSISSIP')).toBe(true);
    expect(namesState('P0TAT0ES')).toBe(true);
    expect(namesState('TRUCK')).toBe(true);
    expect(namesState('TRAI1ER')).toBe(true);
    expect(namesState('C0MMERCIAL')).toBe(true);
    expect(namesState('GOVERNMENT')).toBe(true);
    // the start of a name with too few letters, a number, a vanity plate
    expect(namesState('WASH')).toBe(false);
    expect(namesState('W4SHI')).toBe(false);
    expect(namesState('GR8BUNZ')).toBe(false);
    expect(namesState('NUTSACK')).toBe(false);
    expect(namesState('M0T0RZ')).toBe(false);
  });

  it('approximate substring distance', () => {
    expect(substringDistance('TEXAS', 'XXTEXASXX')).toBe(0);
    expect(substringDistance('TEXAS', 'TEXA')).toBe(1);
    expect(substringDistance('OREGON', 'ORECON')).toBe(1);
  });
});
