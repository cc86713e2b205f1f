/**
 * The unit's one clock. Everything that decides by time (expiry, retention, sessions, lock-outs, schedules, the
 * time stamped on a read) asks the clock it was given: milliseconds since the epoch, UTC. The running unit and
 * the command line pass `systemClock`; tests pass a fixed or stepping one, so a test runs a year in a second and
 * passes on any date.
 *
 * Durations (how long a step took, for logs and benchmarks) are not decided by date and use `performance.now()`,
 * the monotonic timer, which no clock change moves.
 */
export type Clock = () => number;

/** The real clock: the only place in `src/` that reads the wall clock. */
export const systemClock: Clock = () => Date.now();

/** A clock that stands still at `t` until moved: `set(t)` or `advance(ms)`. For tests and replays. */
export interface ManualClock extends Clock {
  set(t: number): void;
  advance(ms: number): void;
}

export function manualClock(start: number): ManualClock {
  let t = start;
  const clock = (() => t) as ManualClock;
  clock.set = (next: number) => {
    t = next;
  };
  clock.advance = (ms: number) => {
    t += ms;
  };
  return clock;
}
