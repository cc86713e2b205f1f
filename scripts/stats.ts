/** Statistics shared by the benchmarks under scripts/. */

/** The q-quantile (0-1) of numbers sorted ascending: the value at floor(q * n), the last for q = 1; 0 for none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
