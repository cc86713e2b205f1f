/**
 * Small helpers shared by the test files (#18 item 4). Waiting uses the monotonic clock (performance.now), which
 * CI's faketime run leaves alone, and polls: tests wait for what a user would see, never for a fixed time.
 */

/** Resolves once `test()` is true; fails after `ms` with what was awaited and, if given, the state at that moment. */
export async function until(test: () => boolean, ms: number, what: string, detail: () => unknown = () => ''): Promise<void> {
  const end = performance.now() + ms;
  while (!test()) {
    if (performance.now() > end) {
      const d = detail();
      throw new Error(`timed out waiting for ${what}${d === '' || d === undefined || d === null ? '' : `\n${typeof d === 'string' ? d : JSON.stringify(d)}`}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
