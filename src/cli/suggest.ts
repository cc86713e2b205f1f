/**
 * "Did you mean ...?" for a mistyped command or option: the edit distance (insertions, deletions, substitutions
 * and swaps of two neighbouring characters, each counting one) to every valid word.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The valid word the given one was most likely meant to be: the only one it begins (`pur` for `purpose`), else the
 * nearest by edit distance when that is small for the word's length; undefined when nothing is near.
 */
export function nearest(word: string, valid: readonly string[]): string | undefined {
  if (word.length >= 2) {
    const prefixed = valid.filter((v) => v.startsWith(word));
    if (prefixed.length === 1) return prefixed[0];
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const v of valid) {
    const dist = editDistance(word.toLowerCase(), v.toLowerCase());
    if (dist < bestDistance) {
      best = v;
      bestDistance = dist;
    }
  }
  const allowed = Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestDistance <= allowed && bestDistance < word.length ? best : undefined;
}
