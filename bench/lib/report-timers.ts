/**
 * The report's timer section (lateness of every timer set, the chained workload) and the timer
 * rows of its targets.
 */
import type { TimerRun, TimersResult, TimerVariant } from '../suites/timers';
import { BUCKETS, bucketLabel, EDGES_US, type LatenessResult } from './lateness';
import { table, verdict } from './report-util';
import { fmtNum, fmtRatio, fmtSummary, fmtUs, ratios, type Summary, summarize } from './stats';
import { histogram } from './svg';

const IMPL_LABEL: Record<string, string> = {
  'ours-standalone': 'ours · standalone (`loop.run()`)',
  'ours-spin': 'ours · standalone, `spinUs: 200`',
  'ours-node': 'ours · node driver (`loop.attach()`)',
  node: 'Node `setTimeout`',
  uv: 'libuv C `uv_timer_t` (bench/c/uv-timers.c)',
  c: 'C `timerfd` + `epoll` (bench/c/timers.c)',
};

/** The timer target: p99 lateness ≤ this many µs on an idle loop — the variants in IDLE_LOOP_SETS. */
const TIMER_P99_TARGET_US = 100;
/** The timer sets the target is for: sparse, and idle (where every timer follows a sleep). */
const IDLE_LOOP_SETS = ['sparse', 'idle'];

/** The timer rows, in table order; one that a run (or an older latest.json) lacks is left out. */
const TIMER_ROWS = ['ours-standalone', 'ours-spin', 'ours-node', 'node', 'uv', 'c'];
/** Whole-millisecond timers (Node's, libuv's): also reported against the delay they really got. */
const WHOLE_MS = ['node', 'uv'];

const CHART_LABEL: Record<string, string> = {
  'ours-standalone': 'ours · standalone',
  'ours-spin': 'ours · standalone, spinUs 200',
  'ours-node': 'ours · node driver',
  node: 'Node setTimeout',
  uv: 'libuv C',
  c: 'C timerfd + epoll',
};

/** The lateness summaries of one timer set and implementation, one per successful round. */
function latenessOf(t: TimersResult, variant: string, impl: string, basis: string): LatenessResult[] {
  return t.runs
    .filter((r) => r.ok && r.variant === variant && r.impl === impl)
    .map((r) => r.results!.find((x) => x.basis === basis))
    .filter((x): x is LatenessResult => !!x);
}

/** "12 µs (9–15 µs)": a lateness summary across rounds. */
function fmtUsSummary(x: Summary | null): string {
  if (!x) return '–';
  return x.min === x.max || x.n === 1 ? fmtUs(x.median) : `${fmtUs(x.median)} (${fmtUs(x.min)}–${fmtUs(x.max)})`;
}

/** V8's collections during the recorded passes (the JS children count them; C has none). */
function gcCell(runs: TimerRun[]): string {
  const gcs = summarize(
    runs
      .filter((r) => r.ok)
      .map((r) => (r.meta?.gc as { count?: number } | undefined)?.count)
      .filter((n): n is number => typeof n === 'number'),
  );
  return gcs ? (gcs.min === gcs.max ? fmtNum(gcs.median, 0) : `${fmtNum(gcs.median, 0)} (${fmtNum(gcs.min, 0)}–${fmtNum(gcs.max, 0)})`) : '–';
}

/** The share of timers per lateness bucket, pooled over the rounds. */
function pooledShares(res: LatenessResult[]): number[] {
  const pooled = new Array<number>(BUCKETS).fill(0);
  let total = 0;
  for (const x of res) {
    x.hist.forEach((c, i) => {
      pooled[i]! += c;
    });
    total += x.count;
  }
  return pooled.map((c) => c / total);
}

/**
 * One timer set's table rows (one per implementation, and for Node's and libuv's whole-ms timers
 * a second against the delay they were given, where that differs) and its histogram chart.
 */
function variantRows(t: TimersResult, v: TimerVariant, charts: string[]): { rows: string[][]; res: Map<string, LatenessResult[]> } {
  const rows: string[][] = [];
  const res = new Map<string, LatenessResult[]>();
  const hists: { id: string; label: string; shares: number[] }[] = [];
  for (const impl of TIMER_ROWS) {
    const runs = t.runs.filter((r) => r.variant === v.id && r.impl === impl);
    if (runs.length === 0) continue; // not run (e.g. a row in a latest.json from before it existed)
    // With whole-millisecond delays (the chained sets) the effective delay is the requested one.
    const bases = WHOLE_MS.includes(impl) && !v.chains ? ['requested', 'effective'] : ['requested'];
    for (const basis of bases) {
      const list = latenessOf(t, v.id, impl, basis);
      const vs = bases.length === 1 ? '' : basis === 'requested' ? ', vs requested delay' : ', vs its effective delay (trunc)';
      const label = `${IMPL_LABEL[impl] ?? impl}${vs}`;
      if (list.length === 0) {
        const err = runs.find((r) => !r.ok)?.error ?? 'no runs';
        rows.push([v.id, label, err.startsWith('not available') ? err.slice(0, 120) : `failed: ${err.slice(0, 120)}`, '', '', '', '', '', '', '']);
        continue;
      }
      if (basis === 'requested') res.set(impl, list);
      const s = (f: (x: LatenessResult) => number) => summarize(list.map(f));
      const early = s((x) => x.early)!;
      const minEarly = s((x) => x.minUs)!;
      rows.push([
        v.id,
        label,
        fmtNum(v.count * (v.record ?? 1), 0),
        `${fmtSummary(early, 0)}${early.max > 0 ? ` (min ${fmtUs(minEarly.min)})` : ''}`,
        fmtUsSummary(s((x) => x.p50Us)),
        fmtUsSummary(s((x) => x.p90Us)),
        fmtUsSummary(s((x) => x.p99Us)),
        fmtUsSummary(s((x) => x.p999Us)),
        fmtUsSummary(s((x) => x.maxUs)),
        gcCell(runs),
      ]);
      const base = CHART_LABEL[impl] ?? impl;
      hists.push({
        id: basis === 'requested' ? impl : `${impl} (effective delay)`,
        label: bases.length === 1 ? base : `${base} (vs ${basis === 'requested' ? 'requested' : 'effective trunc delay'})`,
        shares: pooledShares(list),
      });
    }
  }
  const what = v.chains
    ? `${fmtNum(v.chains, 0)} chains re-armed with ${v.minMs}–${v.maxMs} ms, ${fmtNum(v.count, 0)} firings, ${v.pinned ? 'pinned to one core' : 'unpinned'}`
    : `${fmtNum(v.count, 0)} timers due over ${v.minMs}–${v.maxMs} ms${v.leadMs ? ` (after a ${v.leadMs} ms lead)` : ''}${(v.record ?? 1) > 1 ? `, ${v.record} recorded passes` : ''}`;
  charts.push(
    `timers-lateness-${v.id}.svg`,
    histogram({
      title: `Timer lateness, ${v.id}: ${what}`,
      subtitle: 'fired − due, due = CLOCK_MONOTONIC before scheduling + requested delay; whole-ms timers (Node, libuv) also against the delay they got',
      buckets: Array.from({ length: BUCKETS }, (_, i) => bucketLabel(i)),
      zeroIndex: EDGES_US.indexOf(0),
      series: hists,
    }),
  );
  return { rows, res };
}

const COLUMNS = ['variant', 'implementation', 'timers', 'early (fired before due)', 'p50', 'p90', 'p99', 'p99.9', 'max', 'GC'];

export function timersSection(t: TimersResult, charts: string[]): string {
  let md = '## 3. Timer lateness (fired − due)\n\n';
  const sets = t.variants.filter((v) => !v.chains);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const v of sets) {
    const { rows: vr, res } = variantRows(t, v, charts);
    rows.push(...vr);
    // The target (p99 ≤ 100 µs) is for an idle loop: the sparse set, and the idle one where
    // every timer follows a sleep. The plain C loop's p99 there, same run: what the machine allows.
    if (!IDLE_LOOP_SETS.includes(v.id)) continue;
    const cP99 = summarize((res.get('c') ?? []).map((x) => x.p99Us));
    for (const [impl, list] of res) {
      if (!impl.startsWith('ours')) continue;
      const p99 = summarize(list.map((x) => x.p99Us))!;
      const machine = cP99 ? ` (plain C, same run: p99 ${fmtUs(cP99.median)})` : '';
      notes.push(`${v.id}, ${impl}: p99 ${fmtUs(p99.median)} — target ≤ ${TIMER_P99_TARGET_US} µs: **${p99.median <= TIMER_P99_TARGET_US ? 'met' : 'not met'}**${machine}`);
    }
    if (cP99) {
      const range = cP99.n > 1 && cP99.min !== cP99.max ? ` (${fmtUs(cP99.min)}–${fmtUs(cP99.max)} across rounds)` : '';
      notes.push(
        `${v.id}, c, the practical limit (a plain C timerfd + epoll loop, same delays, same run): p99 ${fmtUs(cP99.median)}${range} — ${cP99.median <= TIMER_P99_TARGET_US ? `so this machine allows the ≤ ${TIMER_P99_TARGET_US} µs target` : `**so not even plain C meets ≤ ${TIMER_P99_TARGET_US} µs on this machine in this run**`}`,
      );
    }
  }
  md += `Delays uniform over 1–100 ms plus a lead (${sets.map((v) => `${v.id} ${v.leadMs ?? 0} ms`).join(', ')}) so that every timer is scheduled before the first is due; lateness = fired − (CLOCK_MONOTONIC before scheduling + delay); median across rounds (min–max).`;
  const multi = sets.filter((v) => (v.passes ?? 1) > 1);
  if (multi.length > 0) {
    md += ` ${multi.map((v) => `The ${v.id} set runs ${v.passes} times in a row (each pass scheduled when the previous one's timers have all fired) and the last ${v.record ?? 1} are recorded: ${fmtNum(v.count * (v.record ?? 1), 0)} samples per run of a loop in its steady state — V8 goes on optimising a loop's functions until each has run some thousands of times (\`--trace-opt\`), and passes before that measure its compile jobs`).join('; ')}. "GC" counts V8's collections during the recorded passes: each stops the thread for ~0.5–1 ms and wakes V8's helper threads, and the timers due meanwhile are that late.`;
  }
  if (t.runs.some((r) => r.impl === 'c')) {
    md += ' The C row is the practical limit: the same delays in a plain C loop (a heap of deadlines, one timerfd, `epoll_wait`), no JavaScript, no spinning.';
  }
  if (t.runs.some((r) => r.impl === 'uv')) {
    md += " The libuv C row is libuv's own timers (`uv_timer_start`) in C: whole milliseconds counted from the loop's cached time, as Node's, so it is shown against the requested delay and against the truncated one it was given.";
  }
  md += '\n\n';
  md += table(COLUMNS, rows);
  md += '\n\n';
  if (notes.length > 0) md += `${notes.map((n) => `- ${n}`).join('\n')}\n\n`;
  const sched = medianPerImpl(t, 'dense', (meta) => meta.scheduleMs, ' ms');
  if (sched.length > 0) {
    md += `Scheduling the dense set (one synchronous loop) took: ${sched.join(', ')}. The dense variant runs the loop at about its capacity (one timer due per µs): its lateness says whether a loop keeps up, and is very sensitive to per-timer cost; the sparse and idle variants are the precision tests (in the idle one every timer follows a sleep, so its lateness is mostly the wake-up).\n\n`;
  }
  // What our loops learnt their wake-ups take (loop.stats().timers.wakeLatency at the end of
  // the idle set): their alarm rings that much before spinUs. Runs from before it existed lack it.
  const learnt = medianPerImpl(t, 'idle', (meta) => (meta.loopStats as { wakeLatencyUs?: unknown } | undefined)?.wakeLatencyUs, ' µs');
  if (learnt.length > 0) {
    md += `The wake-up latency our loops learnt by the end of the idle set (the median time from the alarm's expiry to the loop running; the alarm rings that much before \`spinUs\`, see docs/loop.md): ${learnt.join(', ')}.\n\n`;
  }
  for (const v of sets) md += `![Timer lateness, ${v.id}](timers-lateness-${v.id}.svg)\n\n`;
  md += chainSection(t, charts);
  return md;
}

/** p99 ÷ plain C's p99 in the same round, then median (min–max): > 1 is a longer tail than C's. */
function p99VsC(t: TimersResult, variant: string, impl: string, base: string): Summary | null {
  const byRound = (id: string): (number | undefined)[] => {
    const out: (number | undefined)[] = [];
    for (const r of t.runs) {
      const x = r.ok && r.variant === variant && r.impl === id ? r.results!.find((y) => y.basis === 'requested') : undefined;
      if (x) out[r.round - 1] = x.p99Us;
    }
    return out;
  };
  return summarize(ratios(byRound(impl), byRound(base)));
}

/** The chained workload (issue 26): its table, and each implementation's p99 against plain C's. */
function chainSection(t: TimersResult, charts: string[]): string {
  const sets = t.variants.filter((v) => v.chains);
  if (sets.length === 0) return '';
  const v0 = sets[0]!;
  let md = `### Chained timers: ${v0.chains} chains re-armed on firing, whole milliseconds\n\n`;
  md += `${v0.chains} independent chains, each re-armed from its own callback with a delay of ${v0.minMs}–${v0.maxMs} ms (whole milliseconds, so Node's and libuv's truncation changes nothing; one fixed sequence, the same for every program and round), ${fmtNum(v0.count, 0)} firings recorded after ${fmtNum((v0.warmCount ?? v0.count) * ((v0.passes ?? 1) - (v0.record ?? 1)), 0)} unrecorded ones. Each program runs once pinned to one core with \`taskset\` (all its threads: V8's helpers share the core with the loop) and once unpinned. Median across rounds (min–max).\n\n`;
  const rows: string[][] = [];
  for (const v of sets) rows.push(...variantRows(t, v, charts).rows);
  md += table(COLUMNS, rows);
  md += '\n\n';
  const ratioRows: string[][] = [];
  for (const v of sets) {
    for (const impl of TIMER_ROWS) {
      if (impl === 'c' || !t.runs.some((r) => r.variant === v.id && r.impl === impl && r.ok)) continue;
      ratioRows.push([v.pinned ? 'pinned' : 'unpinned', CHART_LABEL[impl] ?? impl, fmtRatio(p99VsC(t, v.id, impl, 'c')), fmtRatio(p99VsC(t, v.id, impl, 'uv'))]);
    }
  }
  if (ratioRows.length > 0) {
    md += 'p99 lateness against the C loops in the same round (ratio per round, then median (min–max); ≤ 1 is a tail no longer than theirs):\n\n';
    md += table(['placement', 'implementation', 'p99 ÷ plain C timerfd', 'p99 ÷ libuv C'], ratioRows);
    md += '\n\n';
  }
  for (const v of sets) md += `![Timer lateness, ${v.id}](timers-lateness-${v.id}.svg)\n\n`;
  return md;
}

/**
 * "ours-standalone 45.9 ms", … : the median over rounds of one number from the children's meta
 * line (`pick` returns it, or anything else where a run lacks it), per implementation that has it.
 */
function medianPerImpl(t: TimersResult, variant: string, pick: (meta: Record<string, unknown>) => unknown, unit: string): string[] {
  const out: string[] = [];
  for (const impl of TIMER_ROWS) {
    const values: number[] = [];
    for (const r of t.runs) {
      const v = r.ok && r.variant === variant && r.impl === impl && r.meta ? pick(r.meta) : undefined;
      if (typeof v === 'number') values.push(v);
    }
    const s = summarize(values);
    if (s) out.push(`${impl} ${fmtNum(s.median, 1)}${unit}`);
  }
  return out;
}

/** The timer rows of the targets: never early, the p99 on an idle loop, the chained tail against C's. */
export function timerTargets(t: TimersResult): string[][] {
  const rows: string[][] = [];
  const ours = ['ours-standalone', 'ours-spin', 'ours-node'];
  const name: Record<string, string> = { 'ours-standalone': 'standalone', 'ours-spin': 'spinUs 200', 'ours-node': 'node driver' };
  const results = (variant: string, impl: string): LatenessResult[] => latenessOf(t, variant, impl, 'requested');
  // Zero early firings: in every run of every variant, not as a median.
  let early = 0;
  let fired = 0;
  for (const v of t.variants) {
    for (const impl of ours) {
      for (const x of results(v.id, impl)) {
        early += x.early;
        fired += x.count;
      }
    }
  }
  if (fired > 0) rows.push(['timers: zero early firings', `${fmtNum(early, 0)} of ${fmtNum(fired, 0)} timers fired early (every variant and round, all three)`, verdict(early === 0, `(${fmtNum(early, 0)} early)`)]);
  for (const variant of IDLE_LOOP_SETS) {
    if (!t.variants.some((v) => v.id === variant)) continue;
    const cells: string[] = [];
    const missed: string[] = [];
    for (const impl of ours) {
      const p99 = summarize(results(variant, impl).map((x) => x.p99Us));
      if (!p99) continue;
      cells.push(`${name[impl]} ${fmtUs(p99.median)}`);
      if (p99.median > TIMER_P99_TARGET_US) missed.push(`${name[impl]} (+${fmtUs(p99.median - TIMER_P99_TARGET_US)})`);
    }
    const c = summarize(results(variant, 'c').map((x) => x.p99Us));
    if (cells.length === 0) continue;
    rows.push([
      `timers: p99 lateness ≤ ${TIMER_P99_TARGET_US} µs on an idle loop (${variant} set)`,
      `${cells.join(' · ')}${c ? ` (plain C: ${fmtUs(c.median)})` : ''}`,
      missed.length === 0 ? 'met' : `**missed** by ${missed.join(', ')}`,
    ]);
  }
  const chainRow = chainTarget(t, results, name);
  if (chainRow) rows.push(chainRow);
  return rows;
}

/** Issue 26: the chained workload's p99, ours ÷ plain C's in the same round, pinned and unpinned. */
function chainTarget(t: TimersResult, results: (variant: string, impl: string) => LatenessResult[], name: Record<string, string>): string[] | null {
  const cells: string[] = [];
  const missed: string[] = [];
  for (const v of t.variants.filter((x) => x.chains)) {
    const where = v.pinned ? 'pinned' : 'unpinned';
    const parts: string[] = [];
    for (const impl of ['ours-standalone', 'ours-node']) {
      const p99 = summarize(results(v.id, impl).map((x) => x.p99Us));
      const vsC = p99VsC(t, v.id, impl, 'c');
      if (!p99 || !vsC) continue;
      parts.push(`${name[impl]} ${fmtUs(p99.median)} (${fmtRatio(vsC)})`);
      if (vsC.median > 1) missed.push(`${where} ${name[impl]} (${vsC.median.toFixed(2)}×)`);
    }
    const c = summarize(results(v.id, 'c').map((x) => x.p99Us));
    if (parts.length > 0) cells.push(`${where}: ${parts.join(', ')}; plain C ${c ? fmtUs(c.median) : '–'}`);
  }
  if (cells.length === 0) return null;
  return ['timers, chained (issue 26): p99 lateness ≤ plain C\'s in the same run, pinned and unpinned', cells.join(' · '), missed.length === 0 ? 'met' : `**missed**: ${missed.join(', ')}`];
}
