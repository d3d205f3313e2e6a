/**
 * The loop's one clock: CLOCK_MONOTONIC, in milliseconds with sub-microsecond resolution.
 *
 * It is the clock `process.hrtime` and `timerfd(CLOCK_MONOTONIC)` use, so a deadline computed
 * here can be handed to a timerfd as an absolute time (`ms * 1e6` ns) and compared with what a
 * test measures through `process.hrtime`.
 */
import * as sys from '../sys/index';

const CLOCK_MONOTONIC = sys.CLOCK_MONOTONIC;
const clockGettime = sys.clock_gettime;

/** Milliseconds on CLOCK_MONOTONIC (fractional). */
export function monotonicMs(): number {
  return clockGettime(CLOCK_MONOTONIC) / 1e6;
}
