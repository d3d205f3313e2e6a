/**
 * Suite 3 — timer lateness: a child process per implementation (ours standalone, ours attached
 * to Node's loop, Node's setTimeout, bench/c/uv-timers.c: libuv in C, and bench/c/timers.c: a
 * plain C timerfd + epoll loop, the machine's practical limit) schedules the same timers (same
 * seeded delays in a round) and reports a histogram of fired − due. Two variants: "dense" (100,000 timers over 1–100 ms,
 * a busy loop, one pass), "sparse" (2,000 timers per 100 ms: an idle loop, where the target
 * p99 ≤ 100 µs applies; 10 passes one after the other, the last 5 recorded — 10,000 samples of a
 * loop in its steady state, not of V8 still compiling it) and "idle" (200 per 100 ms, 30 passes,
 * the last 10 recorded: every timer follows a sleep). Every delay gets a lead (200 ms
 * dense, 20 ms sparse) so that all timers are scheduled before the first is due; the report
 * gives the scheduling time separately, and the JS children count V8's collections during the
 * recorded passes.
 *
 * Then the chained workload (issue 26): 10 independent chains, each re-armed from its callback
 * with a whole-millisecond delay of 1–10 ms (one fixed sequence, the same for every program and
 * every round), 5,000 firings recorded after 6 unrecorded passes of 1,000; each program once pinned to
 * the server core (taskset: its helper threads share that core) and once not.
 */
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import type { LatenessResult } from '../lib/lateness';
import { describeExit, runToEnd } from '../lib/proc';
import * as progress from '../lib/progress';

/**
 * `c` is bench/c/bin/timers and `uv` bench/c/bin/uv-timers (same options, same delays, same
 * output); the others are JS children.
 */
export const TIMER_IMPLS = ['ours-standalone', 'ours-spin', 'ours-node', 'node', 'uv', 'c'] as const;
/** The chained workload's rows: the two C loops, ours under both drivers, Node. */
export const CHAIN_IMPLS = ['c', 'uv', 'ours-standalone', 'ours-node', 'node'] as const;
/** The chained workload's delays: one sequence for every program and round. */
const CHAIN_SEED = 1;

export interface TimerRun {
  variant: string;
  impl: string;
  round: number;
  ok: boolean;
  error?: string;
  results?: LatenessResult[];
  meta?: Record<string, unknown>;
}

export interface TimerVariant {
  id: string;
  /** Timers (with `chains`, firings) per pass; `passes` passes, the last `record` recorded (count × record samples). */
  count: number;
  minMs: number;
  maxMs: number;
  leadMs: number;
  passes?: number;
  record?: number;
  /** Timers per unrecorded pass (default `count`). */
  warmCount?: number;
  /** The chained workload: this many chains, each re-armed from its callback. */
  chains?: number;
  /** Every process of the run pinned to the server core (taskset); otherwise unpinned. */
  pinned?: boolean;
  /** Rounds of this set (default: the suite's). */
  rounds?: number;
  /** The implementations run (default TIMER_IMPLS). */
  impls?: readonly string[];
}

export interface TimersResult {
  variants: TimerVariant[];
  runs: TimerRun[];
}

function variants(ctx: Ctx): TimerVariant[] {
  // --quick keeps the budget of two minutes with fewer passes (and samples) per run.
  const quick = ctx.settings.mode === 'quick';
  return [
    // The lead (added to every delay) lets the scheduling loop finish before the first is due.
    { id: 'dense', count: ctx.settings.timerCount, minMs: 1, maxMs: 100, leadMs: 200, passes: 1, record: 1 },
    { id: 'sparse', count: ctx.settings.sparseTimerCount, minMs: 1, maxMs: 100, leadMs: 20, passes: quick ? 7 : 10, record: quick ? 3 : 5 },
    // A tenth as many: every timer follows a sleep (gaps ~0.5 ms), so each one's lateness is
    // mostly the machine's wake-up latency. A tenth as many timers also means a tenth as many
    // calls per pass, so V8 takes more passes to finish optimising: with 5 passes before the
    // recorded ones, `--trace-opt` showed 9–16 TurboFan compiles inside the recorded window
    // (node, attached, standalone), each a 1–8 ms job on a worker thread that can take the main
    // thread's vCPU; with 20 before, 0–2.
    { id: 'idle', count: ctx.settings.sparseTimerCount / 10, minMs: 1, maxMs: 100, leadMs: 20, passes: quick ? 11 : 30, record: quick ? 5 : 10 },
    ...[true, false].map((pinned) => ({
      id: pinned ? 'chains-pinned' : 'chains-unpinned',
      count: ctx.settings.chainFirings,
      minMs: 1,
      maxMs: 10,
      leadMs: 0,
      chains: 10,
      // Six unrecorded passes of a fifth as many firings: with one, V8 was still compiling the
      // loop inside the recorded pass (docs/decisions/040-timer-tails.md).
      passes: 7,
      record: 1,
      warmCount: Math.ceil(ctx.settings.chainFirings / 5),
      pinned,
      rounds: ctx.settings.chainRounds,
      impls: CHAIN_IMPLS,
    })),
  ];
}

function roundsOf(ctx: Ctx, v: TimerVariant): number {
  return v.rounds ?? ctx.settings.timerRounds;
}

export function timerSteps(ctx: Ctx): number {
  return variants(ctx).reduce((n, v) => n + roundsOf(ctx, v) * (v.impls ?? TIMER_IMPLS).length, 0);
}

function childArgv(ctx: Ctx, v: TimerVariant, impl: string, round: number): string[] {
  const script = path.join(ctx.distBench, 'children', 'timers.js');
  const program = impl === 'c' ? [path.join(ctx.cbin, 'timers')] : impl === 'uv' ? [path.join(ctx.cbin, 'uv-timers')] : [process.execPath, '--expose-gc', script];
  return [
    ...program,
    ...['--impl', impl, '--count', String(v.count), '--min', String(v.minMs), '--max', String(v.maxMs)],
    ...['--lead', String(v.leadMs), '--seed', String(v.chains ? CHAIN_SEED : round)],
    ...['--passes', String(v.passes ?? 1), '--record', String(v.record ?? 1)],
    ...(v.warmCount ? ['--warm-count', String(v.warmCount)] : []),
    ...(v.chains ? ['--chains', String(v.chains)] : []),
  ];
}

export async function runTimers(ctx: Ctx): Promise<TimersResult> {
  const result: TimersResult = { variants: variants(ctx), runs: [] };
  const rounds = Math.max(...result.variants.map((v) => roundsOf(ctx, v)));
  for (let round = 1; round <= rounds; round++) {
    for (const v of result.variants) {
      if (round > roundsOf(ctx, v)) continue;
      for (const impl of v.impls ?? TIMER_IMPLS) {
        progress.nextStep(`[timers ${v.id} ${v.count.toLocaleString('en-US')} round ${round}/${roundsOf(ctx, v)}] ${impl}`);
        result.runs.push(await runChild(ctx, v, impl, round));
      }
    }
  }
  return result;
}

async function runChild(ctx: Ctx, v: TimerVariant, impl: string, round: number): Promise<TimerRun> {
  const run: TimerRun = { variant: v.id, impl, round, ok: false };
  if (impl === 'uv' && !ctx.tools.libuv) {
    run.error = `not available (libuv: ${ctx.tools.libuvProblem ?? 'no <uv.h>'})`;
    return run;
  }
  // Unpinned unless the set says so: there is no load generator here, and a Node process pinned
  // to one core has V8's compiler and GC threads preempt its main thread for whole scheduler
  // slices (ms), which would dominate every implementation's p99 (measured: 3.5 ms pinned vs
  // 0.13 ms). The chained set is run both ways, to show exactly that. The C children are placed
  // as the others, so that they run under the same conditions.
  const r = await runToEnd(childArgv(ctx, v, impl, round), { name: `timers-${impl}`, timeoutMs: 60_000, cwd: ctx.root, cpu: v.pinned ? ctx.serverCpu : undefined });
  if (r.timedOut || r.exit.code !== 0) {
    const err = r.stderr.trim().split('\n');
    // A missing build of ours shows up as "Cannot find module": say so plainly.
    const missing = err.find((l) => /Cannot find module|addon/i.test(l));
    run.error = missing ? `not available yet (${missing.trim().slice(0, 200)})` : `${r.timedOut ? 'timed out' : describeExit(r.exit)}: ${err.slice(0, 3).join(' | ').slice(0, 300)}`;
    return run;
  }
  const objs = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  run.results = objs.filter((o) => o.type !== 'meta') as unknown as LatenessResult[];
  run.meta = objs.find((o) => o.type === 'meta');
  run.ok = run.results.length > 0;
  if (!run.ok) run.error = 'no result printed';
  return run;
}
