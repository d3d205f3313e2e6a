/**
 * The report's small parts, shared by its sections: Markdown tables, per-round values, failure
 * and availability notes, target verdicts.
 */
import type { ServerInfo } from './servers';
import type { Summary } from './stats';

/** Our two rows in the throughput suites. */
export const OURS = ['ours-standalone', 'ours-node'];


export function table(head: string[], rows: string[][], align?: string[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  const sep = a.map((x) => (x === 'l' ? '---' : '---:'));
  return [`| ${head.join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Values of `field` for one server/connections, indexed by round − 1 (undefined where failed). */
export function perRound<R extends { server: string; conns: number; round: number; ok: boolean }>(
  runs: R[],
  server: string,
  conns: number,
  rounds: number,
  field: (r: R) => number | undefined,
): (number | undefined)[] {
  const out: (number | undefined)[] = new Array(rounds).fill(undefined);
  for (const r of runs) if (r.ok && r.server === server && r.conns === conns) out[r.round - 1] = field(r);
  return out;
}

export function defined(v: (number | undefined)[]): number[] {
  return v.filter((x): x is number => x !== undefined);
}

export function roundsOf(runs: { round: number }[]): number {
  return runs.reduce((m, r) => Math.max(m, r.round), 0);
}

export function failures<R extends { ok: boolean; error?: string }>(runs: R[], describe: (r: R) => string): string[] {
  return runs.filter((r) => !r.ok).map((r) => `${describe(r)}: ${r.error ?? 'failed'}`);
}

export function unavailableNote(servers: { id: string; available: boolean; reason?: string }[]): string {
  const missing = servers.filter((s) => !s.available);
  if (missing.length === 0) return '';
  return `${missing.map((s) => `- **${s.id}**: ${s.reason ?? 'not available'}`).join('\n')}\n\n`;
}

export function labelOf(servers: ServerInfo[], id: string): string {
  return servers.find((s) => s.id === id)?.label ?? id;
}

export function cell(servers: { id: string; available: boolean }[], id: string, s: Summary | null, f: (s: Summary) => string): string {
  const info = servers.find((x) => x.id === id);
  if (info && !info.available) return OURS.includes(id) ? 'not available yet' : 'n/a';
  return s ? f(s) : '–';
}

/** "met", or "**missed** by 0.006" / "**missed** (+12 µs)": the verdict on one median. */
export function verdict(met: boolean, by: string): string {
  return met ? 'met' : `**missed** ${by}`;
}

/** A ratio's shortfall: three decimals, or one significant digit below 0.001 (never "0.000"). */
export function fmtMargin(m: number): string {
  return m >= 0.001 ? m.toFixed(3) : m.toPrecision(1);
}
