/**
 * Formatting shared by `alpr-edge status` (src/cli/status.ts) and the technician's console in the browser: pure
 * functions of their arguments, compiled by both builds.
 */

/** A size in bytes as people read it: 512 B, 1.5 KB, 20.0 MB. */
export function fmtBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
