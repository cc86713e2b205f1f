/**
 * A US plate's state, from the words printed on it: the state's name (the usual case) or a slogan that only one
 * state prints. The rows of a plate that are not its number are read in the same pass as the number; this turns
 * their text into a two-letter code with a confidence, or nothing where no row names a state legibly.
 */
import { distance } from '../util/distance.js';

/** Two-letter code, the state's name, and words or slogans printed on its plates that name it alone. */
const STATES: ReadonlyArray<readonly [string, string, ...string[]]> = [
  ['AL', 'ALABAMA', 'HEARTOFDIXIE', 'SWEETHOMEALABAMA'],
  ['AK', 'ALASKA', 'THELASTFRONTIER', 'NORTHTOTHEFUTURE'],
  ['AZ', 'ARIZONA', 'GRANDCANYONSTATE'],
  ['AR', 'ARKANSAS', 'THENATURALSTATE'],
  ['CA', 'CALIFORNIA', 'DMVCAGOV'],
  ['CO', 'COLORADO', 'COLORFULCOLORADO'],
  ['CT', 'CONNECTICUT', 'CONSTITUTIONSTATE'],
  ['DE', 'DELAWARE', 'THEFIRSTSTATE'],
  ['DC', 'DISTRICTOFCOLUMBIA', 'TAXATIONWITHOUTREPRESENTATION', 'WASHINGTONDC'],
  ['FL', 'FLORIDA', 'SUNSHINESTATE', 'MYFLORIDA'],
  ['GA', 'GEORGIA', 'PEACHSTATE'],
  ['HI', 'HAWAII', 'ALOHASTATE'],
  ['ID', 'IDAHO', 'FAMOUSPOTATOES', 'SCENICIDAHO'],
  ['IL', 'ILLINOIS', 'LANDOFLINCOLN'],
  ['IN', 'INDIANA', 'CROSSROADSOFAMERICA'],
  ['IA', 'IOWA'],
  ['KS', 'KANSAS'],
  ['KY', 'KENTUCKY', 'UNBRIDLEDSPIRIT', 'BLUEGRASSSTATE'],
  ['LA', 'LOUISIANA', 'SPORTSMANSPARADISE', 'BAYOUSTATE'],
  ['ME', 'MAINE', 'VACATIONLAND'],
  ['MD', 'MARYLAND'],
  ['MA', 'MASSACHUSETTS', 'THESPIRITOFAMERICA'],
  ['MI', 'MICHIGAN', 'PUREMICHIGAN', 'GREATLAKESSTATE', 'GREATLAKESSPLENDOR'],
  ['MN', 'MINNESOTA', 'LAKES'],
  ['MS', 'MISSISSIPPI', 'MAGNOLIASTATE'],
  ['MO', 'MISSOURI', 'SHOWMESTATE'],
  ['MT', 'MONTANA', 'BIGSKYCOUNTRY', 'TREASURESTATE'],
  ['NE', 'NEBRASKA', 'CORNHUSKERSTATE'],
  ['NV', 'NEVADA', 'THESILVERSTATE', 'HOMEMEANSNEVADA', 'BATTLEBORN'],
  ['NH', 'NEWHAMPSHIRE', 'LIVEFREEORDIE'],
  ['NJ', 'NEWJERSEY', 'GARDENSTATE'],
  ['NM', 'NEWMEXICO', 'LANDOFENCHANTMENT'],
  ['NY', 'NEWYORK', 'EMPIRESTATE', 'EXCELSIOR'],
  ['NC', 'NORTHCAROLINA', 'FIRSTINFLIGHT', 'FIRSTINFREEDOM'],
  ['ND', 'NORTHDAKOTA', 'PEACEGARDENSTATE', 'LEGENDARY'],
  ['OH', 'OHIO', 'BIRTHPLACEOFAVIATION', 'BEAUTIFULOHIO'],
  ['OK', 'OKLAHOMA', 'NATIVEAMERICA', 'EXPLOREOKLAHOMA'],
  ['OR', 'OREGON'],
  ['PA', 'PENNSYLVANIA', 'KEYSTONESTATE', 'VISITPA'],
  ['RI', 'RHODEISLAND', 'OCEANSTATE'],
  ['SC', 'SOUTHCAROLINA', 'WHILEIBREATHEIHOPE', 'SMILINFACESBEAUTIFULPLACES'],
  ['SD', 'SOUTHDAKOTA', 'GREATFACESGREATPLACES', 'MOUNTRUSHMORE'],
  ['TN', 'TENNESSEE', 'VOLUNTEERSTATE'],
  ['TX', 'TEXAS', 'LONESTARSTATE', 'THELONESTARSTATE'],
  ['UT', 'UTAH', 'LIFEELEVATED', 'GREATESTSNOWONEARTH'],
  ['VT', 'VERMONT', 'GREENMOUNTAINSTATE'],
  ['VA', 'VIRGINIA', 'VIRGINIAISFORLOVERS'],
  ['WA', 'WASHINGTON', 'EVERGREENSTATE'],
  ['WV', 'WESTVIRGINIA', 'WILDWONDERFUL', 'ALMOSTHEAVEN'],
  ['WI', 'WISCONSIN', 'AMERICASDAIRYLAND'],
  ['WY', 'WYOMING', 'LIKENOPLACEONEARTH'],
];

/**
 * Letter pairs that a reader takes for one letter in small print, folded alike in the row read and in the names
 * ("CALIFORNIA" read "CALIFOMIA" is two edits from the name, none once both are folded).
 */
function foldLetters(s: string): string {
  return s.replace(/RN/g, 'M').replace(/VV/g, 'W');
}

const FOLDED_STATES = STATES.map(([code, ...words]) => [code, ...words.map(foldLetters)] as const);

/** A state read from a plate: its two-letter code and how sure the reading is (0-1). */
export interface PlateState {
  code: string;
  confidence: number;
}

/** A row of text read on a plate that is not its number, with the reader's confidence in it (0-1). */
export interface TextRow {
  text: string;
  confidence: number;
}

/** Shortest word matched: shorter ones ("OHIO", "IOWA", "UTAH") must be read exactly, longer ones may have errors. */
const MIN_WORD = 4;
/** Below this similarity (1 - edits / length) a row does not name the state. */
const MIN_SIMILARITY = 0.75;

/**
 * Fewest edits that turn `word` into some substring of `text` (the words on a plate often run together with
 * others, or lose a letter at the edge): Sellers' approximate substring matching.
 */
export function substringDistance(word: string, text: string): number {
  let prev = new Array<number>(text.length + 1).fill(0);
  for (let i = 1; i <= word.length; i++) {
    const cur = new Array<number>(text.length + 1);
    cur[0] = i;
    for (let j = 1; j <= text.length; j++) {
      const sub = prev[j - 1]! + (word[i - 1] === text[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    prev = cur;
  }
  return Math.min(...prev);
}

/**
 * How many edits a word of this length may have and still count as read: none up to 5 letters, then 1 per 6
 * (slogans ending in STATE are alike: "GARDENSTATE" is two edits from "GREENSTATE").
 */
function allowedEdits(length: number): number {
  return length <= 5 ? 0 : Math.floor(length / 6);
}

/**
 * The state the rows name, or undefined where none does legibly. Each row is compared with every state's name
 * and slogans; the best match decides. Its confidence is the row's reading confidence times the match's
 * similarity, halved when a second state matches as well.
 */
export function stateFromRows(rows: readonly TextRow[]): PlateState | undefined {
  const matches: Array<{ code: string; word: string; edits: number; score: number }> = [];
  for (const row of rows) {
    const text = foldLetters(row.text.toUpperCase().replace(/[^A-Z]/g, ''));
    if (text.length < MIN_WORD) continue;
    for (const [code, ...words] of FOLDED_STATES) {
      for (const word of words) {
        if (word.length < MIN_WORD || word.length > text.length + allowedEdits(word.length)) continue;
        const edits = substringDistance(word, text);
        if (edits > allowedEdits(word.length)) continue;
        const similarity = 1 - edits / word.length;
        if (similarity < MIN_SIMILARITY) continue;
        matches.push({ code, word, edits, score: Math.max(0, Math.min(1, row.confidence)) * similarity });
      }
    }
  }
  // "VIRGINIA" is inside "WESTVIRGINIA", "KANSAS" inside "ARKANSAS": where one state's name lies inside another's,
  // the row names the longer one only if it holds more of the longer name than the shorter explains ("RKANSAS" is
  // Arkansas with a letter lost, not Kansas; "WASHINGTON" is Washington, not "WASHINGTON DC" with two letters lost).
  const explains = (short: { word: string }, long: { word: string; edits: number }) =>
    long.word.length > short.word.length && long.word.includes(short.word) && long.edits >= long.word.length - short.word.length;
  const kept = matches.filter(
    (m) =>
      !matches.some((o) => o.code !== m.code && explains(o, m)) &&
      !matches.some((o) => o.code !== m.code && o.word.length > m.word.length && o.word.includes(m.word) && !explains(m, o) && o.score >= m.score * 0.8),
  );
  const best = new Map<string, number>();
  for (const m of kept) best.set(m.code, Math.max(best.get(m.code) ?? 0, m.score));
  const found = [...best.entries()].sort((a, b) => b[1] - a[1]);
  const first = found[0];
  if (!first) return undefined;
  // two states named on one plate (a frame from another state's dealer): the reading is less sure
  const second = found[1]?.[1] ?? 0;
  const confidence = first[1] * (1 - (second / first[1]) * 0.5);
  return { code: first[0], confidence: Math.round(confidence * 1000) / 1000 };
}

/**
 * Words printed on a US plate beside its number that say what kind of plate it is (a Wyoming truck's TRUCK under
 * its number): of 5 letters or more, as the state's names and slogans are matched.
 */
const PLATE_KINDS = [
  'TRUCK', 'TRAILER', 'COMMERCIAL', 'DEALER', 'APPORTIONED', 'MOTORCYCLE', 'PASSENGER', 'TEMPORARY', 'EXEMPT',
  'GOVERNMENT', 'OFFICIAL', 'MUNICIPAL', 'COUNTY', 'LIVERY', 'PERMANENT', 'VETERAN',
];

/**
 * The words a read is compared with in namesState: every state's name and slogans and the kind words, folded as the
 * read is (GOVERNMENT's RN is read as M).
 */
const NOT_NUMBERS = [...FOLDED_STATES.flatMap(([, ...words]) => words), ...PLATE_KINDS.map(foldLetters)].filter((word) => word.length >= 5);

/**
 * Whether a plate-like read is a state's name or slogan itself ("MISS0UR" for MISSOURI, "C0L0RRD0" for COLORADO),
 * such a word cut at the row's edge ("WASHI" for WASHINGTON: at least two letters cut), or a word for the plate's
 * kind ("TRUCK"): a row of a US plate read in place of its number. The whole read, its digits 0, 1 and 5 taken as O,
 * I and S, is within the edits allowed for a word of at least 5 letters, or is exactly the start or the end of a longer
 * one (with an edit allowed, "M0T0RZ", a Pennsylvania vanity plate, would be MOTORCYCLE cut).
 */
export function namesState(text: string): boolean {
  const letters = foldLetters(text.toUpperCase().replace(/0/g, 'O').replace(/1/g, 'I').replace(/5/g, 'S').replace(/[^A-Z]/g, ''));
  if (letters.length < 5) return false;
  const n = letters.length;
  for (const word of NOT_NUMBERS) {
    if (Math.abs(word.length - n) <= allowedEdits(word.length) && distance(word, letters) <= allowedEdits(word.length)) return true;
    if (word.length >= n + 2 && (word.startsWith(letters) || word.endsWith(letters))) return true;
  }
  return false;
}
