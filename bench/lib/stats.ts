/**
 * Small statistics helpers: medians and spreads across rounds, quantiles of samples, number
 * formatting for the tables.
 */

/** Median with min and max, over the rounds of one measurement. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** The q-quantile (0..1) of values already sorted ascending (nearest rank). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sorted[rank - 1]!;
}

/** Per-round ratios a[i] / b[i] (rounds where both exist). */
export function ratios(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) && y !== 0) out.push(x / y);
  }
  return out;
}

/** 12345.6 → "12,346"; small numbers keep significant digits. */
export function fmtNum(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return '–';
  const abs = Math.abs(x);
  const d = digits ?? (abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "12,345 (11,900–12,800)" — median and the min–max across rounds. */
export function fmtSummary(s: Summary | null | undefined, digits?: number, unit = ''): string {
  if (!s) return '–';
  if (s.n === 1 || s.min === s.max) return `${fmtNum(s.median, digits)}${unit}`;
  return `${fmtNum(s.median, digits)}${unit} (${fmtNum(s.min, digits)}–${fmtNum(s.max, digits)})`;
}

/** A ratio such as "1.23× (1.10–1.31)". */
export function fmtRatio(s: Summary | null | undefined): string {
  if (!s) return '–';
  if (s.n === 1 || s.min === s.max) return `${s.median.toFixed(2)}×`;
  return `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

/** Microseconds, with the unit chosen for readability: "850 µs", "1.25 ms". */
export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return '–';
  const abs = Math.abs(us);
  if (abs >= 1e6) return `${fmtNum(us / 1e6, 2)} s`;
  if (abs >= 10_000) return `${fmtNum(us / 1000, 1)} ms`;
  if (abs >= 1000) return `${fmtNum(us / 1000, 2)} ms`;
  return `${fmtNum(us, abs >= 100 ? 0 : 1)} µs`;
}

export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return '–';
  const abs = Math.abs(b);
  if (abs >= 1024 * 1024) return `${fmtNum(b / (1024 * 1024), 1)} MiB`;
  if (abs >= 10 * 1024) return `${fmtNum(b / 1024, 0)} KiB`;
  return `${fmtNum(b, 0)} B`;
}
