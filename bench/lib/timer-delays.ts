/**
 * The timer schedule the JS timer child (bench/children/timers.ts) and the C ones
 * (bench/c/timer-common.c, for timers.c and uv-timers.c) share: mulberry32 (the C copy does the
 * same uint32 arithmetic that `Math.imul` and `>>> 0` do here) and `lead + min + rand() * (max −
 * min)` ms, in doubles; for the chained workload whole milliseconds, `min + floor(rand() * (max −
 * min + 1))`. test/bench.test.ts checks them bit for bit.
 */

/** mulberry32: a small, fast 32-bit generator; the same delays for every implementation. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Spread {
  count: number;
  minMs: number;
  maxMs: number;
  leadMs: number;
}

/** The next `count` delays (ms) drawn from `rand`, spread uniformly over lead + [min, max). */
export function drawDelays(rand: () => number, { count, minMs, maxMs, leadMs }: Spread): Float64Array {
  const d = new Float64Array(count);
  for (let i = 0; i < count; i++) d[i] = leadMs + minMs + rand() * (maxMs - minMs);
  return d;
}

/** The chained workload's next `count` delays: whole milliseconds, uniform over min..max. */
export function drawChainDelays(rand: () => number, { count, minMs, maxMs }: Spread): Float64Array {
  const d = new Float64Array(count);
  for (let i = 0; i < count; i++) d[i] = minMs + Math.floor(rand() * (maxMs - minMs + 1));
  return d;
}
