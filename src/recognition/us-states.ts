/**
 * A US plate's state, from the words printed on it: the state's name (the usual case) or a slogan that only one
 * state prints. The rows of a plate that are not its number are read in the same pass as the number; this turns
 * their text into a two-letter code with a confidence, or nothing where no row names a state legibly.
 */

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

/** Every code the table knows, for validating a state given elsewhere (a hot list entry, a query). */
export const US_STATE_CODES: ReadonlySet<string> = new Set(STATES.map((s) => s[0]));

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

/** How many edits a word of this length may have and still count as read: none up to 5 letters, then 1 per 5. */
function allowedEdits(length: number): number {
  return length <= 5 ? 0 : Math.floor(length / 5);
}

/**
 * The state the rows name, or undefined where none does legibly. Each row is compared with every state's name
 * and slogans; the best match decides. Its confidence is the row's reading confidence times the match's
 * similarity, halved when a second state matches as well.
 */
export function stateFromRows(rows: readonly TextRow[]): PlateState | undefined {
  const best = new Map<string, { score: number; word: string }>();
  for (const row of rows) {
    const text = row.text.toUpperCase().replace(/[^A-Z]/g, '');
    if (text.length < MIN_WORD) continue;
    for (const [code, ...words] of STATES) {
      for (const word of words) {
        if (word.length < MIN_WORD || word.length > text.length + allowedEdits(word.length)) continue;
        const edits = substringDistance(word, text);
        if (edits > allowedEdits(word.length)) continue;
        const similarity = 1 - edits / word.length;
        if (similarity < MIN_SIMILARITY) continue;
        const score = Math.max(0, Math.min(1, row.confidence)) * similarity;
        const had = best.get(code);
        if (!had || score > had.score || (score === had.score && word.length > had.word.length)) best.set(code, { score, word });
      }
    }
  }
  // "VIRGINIA" is inside "WESTVIRGINIA", "KANSAS" inside "ARKANSAS", "LAKES" inside "GREATLAKESSTATE": a match
  // that lies inside another state's longer match is that state's name, not its own, even where the longer one
  // was read with an error ("RKANSAS" is Arkansas with its first letter lost, not Kansas).
  const found = [...best.entries()].filter(
    ([code, m]) => ![...best.entries()].some(([other, o]) => other !== code && o.word.length > m.word.length && o.word.includes(m.word) && o.score >= m.score * 0.8),
  );
  found.sort((a, b) => b[1].score - a[1].score);
  const first = found[0];
  if (!first) return undefined;
  // two states named on one plate (a frame from another state's dealer): the reading is less sure
  const second = found[1]?.[1].score ?? 0;
  const confidence = first[1].score * (1 - (second / first[1].score) * 0.5);
  return { code: first[0], confidence: Math.round(confidence * 1000) / 1000 };
}
