/**
 * Timer-lateness child: schedules COUNT timers with delays spread uniformly over MIN–MAX ms and
 * records, for each, fired − due, where due = process.hrtime.bigint() read right before the
 * timer was scheduled + the delay.
 *
 *   node dist/bench/children/timers.js --impl ours-standalone|ours-spin|ours-node|node
 *        [--count 100000] [--min 1] [--max 100] [--lead 0] [--warmup 20000] [--seed 1]
 *
 * --lead MS is added to every delay, so that scheduling all the timers (100,000 take tens of
 * milliseconds of JavaScript) is over before the first one is due: the measurement is then of the
 * loop firing timers, not of the scheduling burst. --lead 0 gives the literal variant, where the
 * earliest timers wait for the scheduling loop. --warmup N first schedules and fires N timers
 * (over 1–5 ms, not recorded), collects the garbage (run it with --expose-gc) and pauses 100 ms,
 * so that neither implementation is measured with cold code, a scavenge of the warm-up's garbage
 * or V8's background compiler competing with the main thread.
 *
 * - ours-standalone: one `new Loop()`, every `loop.setTimeout`, then `await loop.run()`.
 * - ours-spin: the same with `new Loop({ spinUs: 200 })` (polls through the last 200 µs).
 * - ours-node: the same loop `attach()`ed to Node's libuv loop.
 * - node: Node's `setTimeout` with the same (fractional) delays. Node truncates them to whole
 *   milliseconds and counts from its cached loop time, so lateness is reported twice: against the
 *   requested delay, and against Node's effective delay (trunc(delay), at least 1 ms).
 *
 * Prints one JSON line per basis (see LatenessResult), then a `{"type":"meta",…}` line.
 */
import type * as Lib from '../../lib/index';
import { BUCKETS, bucketOf, type LatenessResult } from '../lib/lateness';
import { quantileSorted } from '../lib/stats';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const impl = arg('--impl', 'node');
const count = Number(arg('--count', '100000'));
const minMs = Number(arg('--min', '1'));
const maxMs = Number(arg('--max', '100'));
const seed = Number(arg('--seed', '1'));
const leadMs = Number(arg('--lead', '0'));
const warmup = Number(arg('--warmup', '20000'));

if (!['ours-standalone', 'ours-spin', 'ours-node', 'node'].includes(impl) || !(count > 0) || !(maxMs >= minMs)) {
  console.error('usage: timers.js --impl ours-standalone|ours-spin|ours-node|node [--count N] [--min MS] [--max MS] [--seed S]');
  process.exit(2);
}

/** mulberry32: the same delays for every implementation. */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = rng(seed);
const delays = new Float64Array(count);
for (let i = 0; i < count; i++) delays[i] = leadMs + minMs + rand() * (maxMs - minMs);

const dueNs = new Float64Array(count);
const dueEffNs = impl === 'node' ? new Float64Array(count) : null;
const firedNs = new Float64Array(count);
let fired = 0;
let finished = false;
let loop: Lib.Loop | null = null;

function now(): number {
  // CLOCK_MONOTONIC ns since boot stay far below 2^53: exact as a double.
  return Number(process.hrtime.bigint());
}

function onFire(i: number): void {
  firedNs[i] = now();
  if (++fired === count) finish();
}

function summarize(basis: string, due: Float64Array): LatenessResult {
  const late = new Float64Array(count);
  const hist = new Array<number>(BUCKETS).fill(0);
  let early = 0;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const us = (firedNs[i]! - due[i]!) / 1000;
    late[i] = us;
    if (us < 0) early++;
    sum += us;
    hist[bucketOf(us)]!++;
  }
  late.sort();
  return {
    impl,
    basis,
    count,
    fired,
    early,
    minUs: late[0]!,
    p50Us: quantileSorted(late, 0.5),
    p90Us: quantileSorted(late, 0.9),
    p99Us: quantileSorted(late, 0.99),
    p999Us: quantileSorted(late, 0.999),
    maxUs: late[count - 1]!,
    meanUs: sum / count,
    hist,
  };
}

let scheduleMs = 0;
let startedNs = now();

function finish(): void {
  if (finished) return;
  finished = true;
  const out: unknown[] = [summarize('requested', dueNs)];
  if (dueEffNs) out.push(summarize('effective', dueEffNs));
  const meta: Record<string, unknown> = { type: 'meta', impl, count, leadMs, scheduleMs, totalMs: (now() - startedNs) / 1e6 };
  if (loop) {
    // The loop's own view (its deadlines, its clock): a cross-check of the numbers above.
    const s = loop.stats();
    meta.loopStats = {
      fired: s.timers.fired,
      p50Us: s.timers.lateness.p50 * 1000,
      p99Us: s.timers.lateness.p99 * 1000,
      maxUs: s.timers.lateness.max * 1000,
      early: s.timers.lateness.early,
      iterations: s.iterations,
      wakeups: s.wakeups,
    };
  }
  out.push(meta);
  process.stdout.write(`${out.map((o) => JSON.stringify(o)).join('\n')}\n`);
}

/** Schedule and fire `n` throw-away timers (over 1–5 ms) with `schedule`, resolve when done. */
function warmUp(n: number, schedule: (cb: () => void, ms: number) => void, run?: () => Promise<void>): Promise<void> {
  if (n <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let left = n;
    const cb = (): void => {
      if (--left === 0 && !run) resolve();
    };
    for (let i = 0; i < n; i++) schedule(cb, 1 + (4 * i) / n);
    // Then collect the warm-up's garbage (when run with --expose-gc) and pause SETTLE_MS, so
    // that neither a scavenge of it nor V8's background compilation lands in the measurement.
    schedule(collect, 5);
    schedule(() => undefined, 5 + SETTLE_MS);
    if (run) run().then(resolve, reject);
    else schedule(resolve, 5 + SETTLE_MS);
  });
}

const SETTLE_MS = 100;

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function main(): Promise<void> {
  if (impl === 'node') {
    await warmUp(warmup, (cb, ms) => setTimeout(cb, ms));
    startedNs = now();
    const t0 = now();
    for (let i = 0; i < count; i++) {
      const d = delays[i]!;
      const start = now();
      dueNs[i] = start + d * 1e6;
      dueEffNs![i] = start + Math.max(1, Math.trunc(d)) * 1e6;
      setTimeout(onFire, d, i);
    }
    scheduleMs = (now() - t0) / 1e6;
    return; // Node's loop runs them; finish() prints from the last one
  }
  // Loaded lazily so that the Node variant runs even if the addon is not built.
  const lib = require('../../lib/index') as typeof Lib;
  const standalone = impl === 'ours-standalone' || impl === 'ours-spin';
  const l = new lib.Loop(impl === 'ours-spin' ? { spinUs: 200 } : {});
  if (standalone) await warmUp(warmup, (cb, ms) => l.setTimeout(cb, ms), () => l.run());
  else {
    l.attach();
    await warmUp(warmup, (cb, ms) => l.setTimeout(cb, ms));
    l.detach();
  }
  l.stats({ reset: true });
  loop = l;
  startedNs = now();
  const t0 = now();
  for (let i = 0; i < count; i++) {
    const d = delays[i]!;
    dueNs[i] = now() + d * 1e6;
    l.setTimeout(onFire, d, i);
  }
  scheduleMs = (now() - t0) / 1e6;
  if (standalone) {
    await l.run();
    if (!finished) throw new Error(`run() returned after ${fired} of ${count} timers`);
  } else {
    l.attach(); // the loop un-refs itself once every timer has fired; the process then exits
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
