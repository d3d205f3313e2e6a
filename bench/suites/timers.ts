/**
 * Suite 3 — timer lateness: a child process per implementation (ours standalone, ours attached
 * to Node's loop, Node's setTimeout, and bench/c/timers.c: a plain C timerfd + epoll loop, the
 * machine's practical limit) schedules the same timers (same seeded delays in a round) and
 * reports a histogram of fired − due. Two variants: "dense" (100,000 timers over 1–100 ms,
 * a busy loop, one pass), "sparse" (2,000 timers per 100 ms: an idle loop, where the target
 * p99 ≤ 100 µs applies; 10 passes one after the other, the last 5 recorded — 10,000 samples of a
 * loop in its steady state, not of V8 still compiling it) and "idle" (200 per 100 ms, 30 passes,
 * the last 10 recorded: every timer follows a sleep). Every delay gets a lead (200 ms
 * dense, 20 ms sparse) so that all timers are scheduled before the first is due; the report
 * gives the scheduling time separately, and the JS children count V8's collections during the
 * recorded passes.
 */
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import type { LatenessResult } from '../lib/lateness';
import { describeExit, runToEnd } from '../lib/proc';
import * as progress from '../lib/progress';

/** `c` is bench/c/bin/timers (same options, same delays, same output); the others are JS children. */
export const TIMER_IMPLS = ['ours-standalone', 'ours-spin', 'ours-node', 'node', 'c'] as const;

export interface TimerRun {
  variant: string;
  impl: string;
  round: number;
  ok: boolean;
  error?: string;
  results?: LatenessResult[];
  meta?: Record<string, unknown>;
}

export interface TimersResult {
  /** `count` timers per pass; `passes` passes, the last `record` recorded (count × record samples). */
  variants: { id: string; count: number; minMs: number; maxMs: number; leadMs: number; passes?: number; record?: number }[];
  runs: TimerRun[];
}

function variants(ctx: Ctx): TimersResult['variants'] {
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
  ];
}

export function timerSteps(ctx: Ctx): number {
  return ctx.settings.timerRounds * variants(ctx).length * TIMER_IMPLS.length;
}

export async function runTimers(ctx: Ctx): Promise<TimersResult> {
  const result: TimersResult = { variants: variants(ctx), runs: [] };
  const script = path.join(ctx.distBench, 'children', 'timers.js');
  const rounds = ctx.settings.timerRounds;
  for (let round = 1; round <= rounds; round++) {
    for (const v of result.variants) {
      for (const impl of TIMER_IMPLS) {
        progress.nextStep(`[timers ${v.id} ${v.count.toLocaleString('en-US')} round ${round}/${rounds}] ${impl}`);
        const argv = [
          ...(impl === 'c' ? [path.join(ctx.cbin, 'timers')] : [process.execPath, '--expose-gc', script]),
          ...['--impl', impl, '--count', String(v.count), '--min', String(v.minMs), '--max', String(v.maxMs)],
          ...['--lead', String(v.leadMs), '--seed', String(round)],
          ...['--passes', String(v.passes ?? 1), '--record', String(v.record ?? 1)],
        ];
        // Not pinned: there is no load generator here, and a Node process pinned to one core has
        // V8's compiler and GC threads preempt its main thread for whole scheduler slices (ms),
        // which would dominate every implementation's p99 (measured: 3.5 ms pinned vs 0.13 ms).
        // The C child is not pinned either, so that it runs under the same conditions.
        const r = await runToEnd(argv, { name: `timers-${impl}`, timeoutMs: 60_000, cwd: ctx.root });
        const run: TimerRun = { variant: v.id, impl, round, ok: false };
        if (r.timedOut || r.exit.code !== 0) {
          const err = r.stderr.trim().split('\n');
          // A missing build of ours shows up as "Cannot find module": say so plainly.
          const missing = err.find((l) => /Cannot find module|addon/i.test(l));
          run.error = missing ? `not available yet (${missing.trim().slice(0, 200)})` : `${r.timedOut ? 'timed out' : describeExit(r.exit)}: ${err.slice(0, 3).join(' | ').slice(0, 300)}`;
        } else {
          const objs = r.stdout
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as Record<string, unknown>);
          run.results = objs.filter((o) => o.type !== 'meta') as unknown as LatenessResult[];
          run.meta = objs.find((o) => o.type === 'meta');
          run.ok = run.results.length > 0;
          if (!run.ok) run.error = 'no result printed';
        }
        result.runs.push(run);
      }
    }
  }
  return result;
}
