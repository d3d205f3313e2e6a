/**
 * The timer-lateness histogram shared by the timer child (which fills it) and the report (which
 * draws it). Lateness = fired − due, in µs; negative = the timer fired early. The buckets are
 * symmetric-ish and roughly logarithmic so that both a 5 µs and a 20 ms lateness are visible,
 * and the early side (down to −2 ms, where Node's cached loop time plus its truncation of
 * fractional delays can put a timer) has buckets of its own.
 */

/** Bucket i covers [EDGES_US[i], EDGES_US[i+1]) µs. */
export const EDGES_US: readonly number[] = [
  Number.NEGATIVE_INFINITY,
  -2000,
  -1000,
  -500,
  -200,
  -100,
  -50,
  -20,
  -10,
  0,
  10,
  20,
  50,
  100,
  200,
  500,
  1000,
  2000,
  5000,
  10_000,
  20_000,
  50_000,
  Number.POSITIVE_INFINITY,
];

export const BUCKETS = EDGES_US.length - 1;

export function bucketOf(us: number): number {
  // Few edges: a linear scan is fine and obviously right.
  for (let i = BUCKETS - 1; i >= 0; i--) if (us >= EDGES_US[i]!) return i;
  return 0;
}

function fmtEdge(us: number): string {
  const abs = Math.abs(us);
  const sign = us < 0 ? '−' : '';
  return abs >= 1000 ? `${sign}${abs / 1000}ms` : `${sign}${abs}µs`;
}

/** Short labels for the chart's x axis. */
export function bucketLabel(i: number): string {
  const lo = EDGES_US[i]!;
  const hi = EDGES_US[i + 1]!;
  if (lo === Number.NEGATIVE_INFINITY) return `<${fmtEdge(hi)}`;
  if (hi === Number.POSITIVE_INFINITY) return `≥${fmtEdge(lo)}`;
  return `${fmtEdge(lo)}…${fmtEdge(hi)}`;
}

/** What the timer child prints (one JSON line). */
export interface LatenessResult {
  impl: string;
  /** Which due time lateness is measured against ("requested" or Node's "effective" integer delay). */
  basis: string;
  count: number;
  fired: number;
  early: number;
  minUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
  hist: number[];
}
