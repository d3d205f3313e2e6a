/**
 * Timer-lateness child: schedules COUNT timers with delays spread uniformly over MIN–MAX ms and
 * records, for each, fired − due, where due = CLOCK_MONOTONIC (performance.now()) read right
 * before the timer was scheduled + the delay.
 *
 *   node dist/bench/children/timers.js --impl ours-standalone|ours-spin|ours-node|node
 *        [--count 100000] [--min 1] [--max 100] [--lead 0] [--warmup 20000]
 *        [--passes 1] [--record 1] [--warm-count N] [--chains C] [--seed 1]
 *
 * --lead MS is added to every delay, so that scheduling all the timers (100,000 take tens of
 * milliseconds of JavaScript) is over before the first one is due: the measurement is then of the
 * loop firing timers, not of the scheduling burst. --lead 0 gives the literal variant, where the
 * earliest timers wait for the scheduling loop. --warmup N first schedules and fires N timers
 * (over 1–5 ms, not recorded), collects the garbage (run it with --expose-gc) and pauses 100 ms,
 * so that neither implementation is measured with cold code, a scavenge of the warm-up's garbage
 * or V8's background compiler competing with the main thread. --passes K (default 1) then runs
 * the whole schedule K times, each pass starting when the previous one's timers have all fired,
 * and records the last R (--record R, default 1): the steady state of a loop that has been doing
 * this for a while (V8 keeps compiling the loop's code for about a second of a new pattern, and
 * that is what a first pass would measure). The first recorded pass has the delays
 * mulberry32(seed) draws first (those bench/c/timers.c uses); every other pass draws fresh ones
 * from the same spread (--warm-count N timers per unrecorded pass; default COUNT). The meta line
 * counts V8's collections during the recorded passes.
 *
 * --chains C: the chained workload. A pass is COUNT firings of C independent chains, each re-armed
 * on firing: chain c fires timers c, c + C, c + 2C, …, each scheduled (due = the clock then + its
 * delay) by its predecessor's callback right after that one recorded its firing. The delays are
 * whole milliseconds from MIN to MAX (drawChainDelays), so Node's truncation changes nothing.
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
import { PerformanceObserver } from 'node:perf_hooks';
import type * as Lib from '../../lib/index';
import { BUCKETS, bucketOf, type LatenessResult } from '../lib/lateness';
import { quantileSorted } from '../lib/stats';
import { drawChainDelays, drawDelays, mulberry32 } from '../lib/timer-delays';

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
const passes = Number(arg('--passes', '1'));
const record = Number(arg('--record', '1'));
const warmCount = Number(arg('--warm-count', String(count)));
const chains = Number(arg('--chains', '0'));

const wholeMs = (x: number): boolean => Number.isInteger(x) && x >= 1;
if (
  !['ours-standalone', 'ours-spin', 'ours-node', 'node'].includes(impl) ||
  !Number.isInteger(count) ||
  !(count > 0) ||
  !(maxMs >= minMs) ||
  !(Number.isInteger(passes) && passes >= 1) ||
  !(Number.isInteger(record) && record >= 1 && record <= passes) ||
  !(Number.isInteger(warmCount) && warmCount >= 1) ||
  !(Number.isInteger(chains) && chains >= 0 && chains <= Math.min(count, warmCount)) ||
  (chains > 0 && !(wholeMs(minMs) && wholeMs(maxMs) && leadMs === 0))
) {
  console.error('usage: timers.js --impl ours-standalone|ours-spin|ours-node|node [--count N] [--min MS] [--max MS] [--passes K] [--record R] [--warm-count N] [--chains C] [--seed S]');
  process.exit(2);
}

/** The recorded pass's delays come first from mulberry32(seed): the C child draws the same ones. */
const spread = { count, minMs, maxMs, leadMs };
const recordRand = mulberry32(seed);
const warmRand = mulberry32(seed * 7919 + 17);

const draw = chains > 0 ? drawChainDelays : drawDelays;

/** Samples recorded: `count` per recorded pass (a warm-up pass writes over the first ones). */
const total = count * record;
const slots = Math.max(total, warmCount);
const dueNs = new Float64Array(slots);
const dueEffNs = impl === 'node' ? new Float64Array(slots) : null;
const firedNs = new Float64Array(slots);
let fired = 0;
let finished = false;
let loop: Lib.Loop | null = null;
/** Resolves the pass in progress when its last timer has fired. */
let passDone: (() => void) | null = null;

/** The pass in progress: its first slot, its size, its delays, how to schedule one timer. */
const current = { base: 0, n: 0, delays: new Float64Array(0), start: (_i: number, _d: number): void => undefined };

function now(): number {
  // CLOCK_MONOTONIC (what process.hrtime reads), in ns since the process started, as a double:
  // performance.now() allocates no BigInt, so the harness adds less garbage of its own.
  return performance.now() * 1e6;
}

function onFire(i: number): void {
  firedNs[i] = now();
  if (chains > 0) {
    const next = i - current.base + chains;
    if (next < current.n) current.start(current.base + next, current.delays[next]!);
  }
  if (++fired === current.n) passDone?.();
}

/** Timers fired in the recorded passes. */
let firedRecorded = 0;

function summarize(basis: string, due: Float64Array): LatenessResult {
  const late = new Float64Array(total);
  const hist = new Array<number>(BUCKETS).fill(0);
  let early = 0;
  let sum = 0;
  for (let i = 0; i < total; i++) {
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
    count: total,
    fired: firedRecorded,
    early,
    minUs: late[0]!,
    p50Us: quantileSorted(late, 0.5),
    p90Us: quantileSorted(late, 0.9),
    p99Us: quantileSorted(late, 0.99),
    p999Us: quantileSorted(late, 0.999),
    maxUs: late[total - 1]!,
    meanUs: sum / total,
    hist,
  };
}

let scheduleMs = 0;
let startedNs = now();
/** V8's collections during the recorded pass (a scavenge stops the main thread ~0.5–1 ms here). */
const gcSeen = { count: 0, ms: 0 };
let gcObserver: PerformanceObserver | null = null;

function countGc(entries: readonly { duration: number }[]): void {
  for (const e of entries) {
    gcSeen.count++;
    gcSeen.ms += e.duration;
  }
}

function watchGc(): void {
  gcObserver = new PerformanceObserver((list) => countGc(list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
}

function unwatchGc(): void {
  if (gcObserver === null) return;
  countGc(gcObserver.takeRecords());
  gcObserver.disconnect();
  gcObserver = null;
}

function finish(): void {
  if (finished) return;
  finished = true;
  const out: unknown[] = [summarize('requested', dueNs)];
  if (dueEffNs) out.push(summarize('effective', dueEffNs));
  unwatchGc();
  const meta: Record<string, unknown> = { type: 'meta', impl, count: total, perPass: count, chains, leadMs, passes, record, scheduleMs, totalMs: (now() - startedNs) / 1e6, gc: gcSeen };
  if (loop) {
    // The loop's own view (its deadlines, its clock): a cross-check of the numbers above.
    const s = loop.stats();
    meta.loopStats = {
      fired: s.timers.fired,
      p50Us: s.timers.lateness.p50 * 1000,
      p99Us: s.timers.lateness.p99 * 1000,
      maxUs: s.timers.lateness.max * 1000,
      early: s.timers.lateness.early,
      // What the loop learnt its wake-ups take (the alarm rings that much before spinUs).
      wakeLatencyUs: s.timers.wakeLatency * 1000,
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

/**
 * One pass: `delays.length` timers, timer i through onFire(base + i) with its due instant
 * recorded there (with --chains, only the chains' first timers here, the others by onFire);
 * resolves when the last has fired. `start` schedules one; `wait` runs them (standalone) or
 * returns at once (Node's loop or the attached driver runs them).
 */
async function pass(delays: Float64Array, base: number, start: (i: number, d: number) => void, wait: () => Promise<void>): Promise<void> {
  fired = 0;
  Object.assign(current, { base, n: delays.length, delays, start });
  const done = new Promise<void>((resolve) => {
    passDone = resolve;
  });
  const t0 = now();
  const first = chains > 0 ? chains : delays.length;
  for (let i = 0; i < first; i++) start(base + i, delays[i]!);
  scheduleMs = (now() - t0) / 1e6;
  await wait();
  await done;
  passDone = null;
}

/** The unrecorded passes, `beforeRecording()`, then the recorded ones. */
async function runPasses(start: (i: number, d: number) => void, wait: () => Promise<void>, beforeRecording: () => void): Promise<void> {
  for (let p = 0; p < passes - record; p++) await pass(draw(warmRand, { ...spread, count: warmCount }), 0, start, wait);
  beforeRecording();
  startedNs = now();
  watchGc();
  for (let r = 0; r < record; r++) {
    await pass(draw(recordRand, spread), r * count, start, wait);
    firedRecorded += fired;
  }
}

async function main(): Promise<void> {
  const idle = (): Promise<void> => Promise.resolve();
  if (impl === 'node') {
    await warmUp(warmup, (cb, ms) => setTimeout(cb, ms));
    const start = (i: number, d: number): void => {
      const t = now();
      dueNs[i] = t + d * 1e6;
      dueEffNs![i] = t + Math.max(1, Math.trunc(d)) * 1e6;
      setTimeout(onFire, d, i);
    };
    await runPasses(start, idle, () => undefined);
    finish();
    return;
  }
  // Loaded lazily so that the Node variant runs even if the addon is not built.
  const lib = require('../../lib/index') as typeof Lib;
  const standalone = impl === 'ours-standalone' || impl === 'ours-spin';
  const l = new lib.Loop(impl === 'ours-spin' ? { spinUs: 200 } : {});
  if (standalone) await warmUp(warmup, (cb, ms) => l.setTimeout(cb, ms), () => l.run());
  else {
    l.attach();
    await warmUp(warmup, (cb, ms) => l.setTimeout(cb, ms));
  }
  const start = (i: number, d: number): void => {
    dueNs[i] = now() + d * 1e6;
    l.setTimeout(onFire, d, i);
  };
  // Standalone: run() returns when the pass's timers are done. Attached: the driver runs them;
  // the loop un-refs itself between passes (no timers left) and stays attached.
  const wait = standalone
    ? async (): Promise<void> => {
        await l.run();
        if (fired !== current.n) throw new Error(`run() returned after ${fired} of ${current.n} timers`);
      }
    : idle;
  await runPasses(start, wait, () => {
    l.stats({ reset: true });
    loop = l;
  });
  if (!standalone) l.detach();
  finish();
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
