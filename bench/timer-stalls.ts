/**
 * Who delays a late chained timer (issue 26, part 2; docs/decisions/040-timer-tails.md).
 *
 *   node --expose-gc dist/bench/timer-stalls.js run --out FILE [--passes 7] [--warm-count 1000]
 *        [--count 5000] [--spin-us US]
 *   node dist/bench/timer-stalls.js cbuild --out BIN
 *   node dist/bench/timer-stalls.js analyze --firings FILE --perf PERF.DATA [--cpu 1] [--late-us 200]
 *        [--partner FILE]
 *   node dist/bench/timer-stalls.js table ANALYSIS.json…
 *
 * `run`: the chained workload of bench/suites/timers.ts (`chains-*`) on our standalone loop, as
 * bench/children/timers.ts runs it (20,000 warm-up timers, a collection, 100 ms pause, then
 * `passes − 1` unrecorded passes of `warm-count` firings, then one recorded pass of `count`
 * firings: 10 chains, whole-ms delays 1–10 ms, the bench's seed). It writes one line per recorded
 * firing, `dueNs firedNs` in CLOCK_MONOTONIC ns (the clock `perf record -k CLOCK_MONOTONIC`
 * stamps events with), then `# gc startNs endNs kind` for every V8 collection of the recorded
 * pass and a `# meta {...}` line naming the process's threads (tid, comm), with the main thread's
 * CPU time and run-queue wait over the recorded pass (schedstat). `--spin-us` is the Loop option
 * (default: the Loop's).
 *
 * `cbuild`: bench/c/timers.c linked with a shim (`-Wl,--wrap=print_lateness`) that also writes
 * the recorded firings in the same format to $TIMER_STALLS_OUT: the plain C program, unchanged.
 *
 * `analyze`: reads `perf script` of a `perf sched record -k CLOCK_MONOTONIC` trace and, for every
 * firing later than `late-us`, splits the window [due, fired] on the traced CPU by who ran in it:
 * the process's main thread, its other threads (named by Node's creation order), other processes
 * (grouped by comm: builds and tests, benchmarks, kernel threads, …), idle. Prints
 * a JSON summary: per source, the late firings it ran in and its µs inside their windows (the
 * windows overlap, one stall delaying several chains: each ns is counted once, over their union),
 * and for our main thread's windows how long it was runnable but not running (woken, waiting for
 * the CPU) and how much of the window a V8 collection covered. `--partner FILE` names the process
 * of another firings file: the other program of a pair run on the same CPU at once.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Lib from '../lib/index';
import { drawChainDelays, mulberry32 } from './lib/timer-delays';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

// ---- run: the workload on our standalone loop ----------------------------------------------

const CHAINS = 10;
const SEED = 1; // the bench's CHAIN_SEED
const SPREAD = { minMs: 1, maxMs: 10, leadMs: 0 };

async function runOurs(out: string): Promise<void> {
  const count = Number(arg('--count', '5000'));
  const passes = Number(arg('--passes', '7'));
  const warmCount = Number(arg('--warm-count', '1000'));
  const spin = process.argv.includes('--spin-us') ? { spinUs: Number(arg('--spin-us', '50')) } : {};
  const lib = require('../lib/index') as typeof Lib;
  const loop = new lib.Loop(spin);
  // performance.now() is CLOCK_MONOTONIC from an origin; one offset turns it into the kernel's
  // CLOCK_MONOTONIC ns without a BigInt per firing (the mean of a few reads: error < 1 µs).
  let offset = 0;
  for (let k = 0; k < 8; k++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint());
    const b = performance.now();
    offset += h - ((a + b) / 2) * 1e6;
  }
  offset /= 8;
  const now = (): number => performance.now() * 1e6;

  const slots = Math.max(count, warmCount);
  const dueNs = new Float64Array(slots);
  const firedNs = new Float64Array(slots);
  const cur = { n: 0, fired: 0, delays: new Float64Array(0) };
  const start = (i: number, d: number): void => {
    dueNs[i] = now() + d * 1e6;
    loop.setTimeout(onFire, d, i);
  };
  function onFire(i: number): void {
    firedNs[i] = now();
    const next = i + CHAINS;
    if (next < cur.n) start(next, cur.delays[next]!);
    cur.fired++;
  }
  async function pass(delays: Float64Array): Promise<void> {
    Object.assign(cur, { n: delays.length, fired: 0, delays });
    for (let i = 0; i < CHAINS; i++) start(i, delays[i]!);
    await loop.run();
    if (cur.fired !== cur.n) throw new Error(`run() returned after ${cur.fired} of ${cur.n} firings`);
  }

  // The child's warm-up: 20,000 throw-away timers over 1–5 ms, a collection, a 100 ms pause.
  const warm = 20_000;
  for (let i = 0; i < warm; i++) loop.setTimeout(() => undefined, 1 + (4 * i) / warm);
  loop.setTimeout(() => (globalThis as { gc?: () => void }).gc?.(), 5);
  loop.setTimeout(() => undefined, 105);
  await loop.run();

  const warmRand = mulberry32(SEED * 7919 + 17);
  for (let p = 0; p < passes - 1; p++) await pass(drawChainDelays(warmRand, { ...SPREAD, count: warmCount }));

  const gcs: string[] = [];
  const { PerformanceObserver } = await import('node:perf_hooks');
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
      gcs.push(`# gc ${Math.round(e.startTime * 1e6 + offset)} ${Math.round((e.startTime + e.duration) * 1e6 + offset)} ${kind}`);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  // The main thread's CPU time and run-queue wait (ns) over the recorded pass.
  const schedstat = (): number[] => fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  const before = schedstat();
  // Markers for --trace-opt / --trace-gc, which print to stdout too.
  process.stdout.write('timer-stalls: recorded pass starts\n');
  await pass(drawChainDelays(mulberry32(SEED), { ...SPREAD, count }));
  const after = schedstat();
  process.stdout.write('timer-stalls: recorded pass ends\n');
  const main = { cpuMs: (after[0]! - before[0]!) / 1e6, runQueueMs: (after[1]! - before[1]!) / 1e6 };
  for (const e of obs.takeRecords()) {
    const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
    gcs.push(`# gc ${Math.round(e.startTime * 1e6 + offset)} ${Math.round((e.startTime + e.duration) * 1e6 + offset)} ${kind}`);
  }
  obs.disconnect();

  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`${Math.round(dueNs[i]! + offset)} ${Math.round(firedNs[i]! + offset)}`);
  const threads = fs.readdirSync('/proc/self/task').map((tid) => ({ tid: Number(tid), comm: fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() }));
  lines.push(...gcs, `# meta ${JSON.stringify({ impl: 'ours-standalone', ...spin, pid: process.pid, threads, passes, warmCount, count, main })}`);
  fs.writeFileSync(out, `${lines.join('\n')}\n`);
}

// ---- cbuild: plain C with a dump of its recorded firings ------------------------------------

const C_SHIM = `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
void __real_print_lateness(const char *, const char *, const uint64_t *, const double *, size_t, double *);
void __wrap_print_lateness(const char *impl, const char *basis, const uint64_t *fired, const double *due, size_t count, double *late)
{
    const char *out = getenv("TIMER_STALLS_OUT");
    FILE *f = out ? fopen(out, "w") : NULL;
    if (f) {
        for (size_t i = 0; i < count; i++)
            fprintf(f, "%.0f %llu\\n", due[i], (unsigned long long)fired[i]);
        fprintf(f, "# meta {\\"impl\\":\\"c\\",\\"pid\\":%d,\\"threads\\":[{\\"tid\\":%d,\\"comm\\":\\"timers\\"}],\\"count\\":%zu}\\n", getpid(), getpid(), count);
        fclose(f);
    }
    __real_print_lateness(impl, basis, fired, due, count, late);
}
`;

function cbuild(out: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timer-stalls-'));
  const shim = path.join(dir, 'shim.c');
  fs.writeFileSync(shim, C_SHIM);
  const c = path.join(__dirname, '..', '..', 'bench', 'c');
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Wl,--wrap=print_lateness', '-o', out, path.join(c, 'timers.c'), path.join(c, 'timer-common.c'), shim, '-lm'], { stdio: 'inherit' });
  fs.rmSync(dir, { recursive: true });
}

// ---- analyze: who ran on the CPU while a firing was late ------------------------------------

interface Firing {
  due: number;
  fired: number;
}

interface Meta {
  impl: string;
  spinUs?: number;
  main?: { cpuMs: number; runQueueMs: number };
  pid: number;
  threads: { tid: number; comm: string }[];
}

/** One stretch of the traced CPU: [from, to) ns, the task on it. */
interface Slice {
  from: number;
  to: number;
  tid: number;
  comm: string;
  pid: number;
}

/**
 * Node 20's threads by creation order (tids ascending after the main one): node_platform.cc's
 * WorkerThreadsTaskRunner starts its delayed-task scheduler, then the V8 platform workers
 * (--v8-pool-size, 4 by default), then node.cc's inspector signal thread (SIGUSR1); libuv's
 * threadpool only starts on first use. Node leaves every comm "node", so the order names them.
 */
function nameThreads(meta: Meta): Map<number, string> {
  const names = new Map<number, string>();
  const others = meta.threads.map((t) => t.tid).filter((t) => t !== meta.pid).sort((a, b) => a - b);
  names.set(meta.pid, `main thread (${meta.threads.find((t) => t.tid === meta.pid)?.comm ?? '?'})`);
  if (meta.impl === 'c') return names;
  others.forEach((tid, k) => {
    const comm = meta.threads.find((t) => t.tid === tid)?.comm ?? '?';
    const role = k === 0 ? 'delayed-task scheduler' : k <= 4 ? 'V8 platform worker' : k === 5 ? 'inspector signal thread' : 'libuv threadpool or other';
    names.set(tid, `${role} (${comm})`);
  });
  return names;
}

/** Another process, by its comm: what it is on this shared machine. */
function categoryOf(comm: string): string {
  if (/^(k\w*d|kworker|ksoftirqd|rcu_|migration|kdamond|kcompactd|watchdog|cpuhp)/.test(comm)) return 'kernel threads';
  if (/^(wrk|haproxy|curl|openssl|(udp-)?echo-(client|server)|http-server|uv-)/.test(comm)) return "other sessions' benchmarks (load generators, servers)";
  if (comm === 'perf') return 'perf (the tracer)';
  if (comm === 'tokio-rt-worker') return 'tokio-rt-worker (a service on the VM)';
  return "other sessions' builds and tests (node, tsc, npm, cc1plus, sh, …)";
}

/** Total length of the intersection of [from, to) with sorted disjoint intervals. */
function overlap(spans: readonly [number, number][], from: number, to: number): number {
  let ns = 0;
  for (const [a, b] of spans) {
    if (a >= to) break;
    ns += Math.max(0, Math.min(b, to) - Math.max(a, from));
  }
  return ns;
}

function analyze(): void {
  const firingsFile = arg('--firings', '');
  const perfData = arg('--perf', '');
  const cpu = Number(arg('--cpu', '1'));
  const lateUs = Number(arg('--late-us', '200'));
  const firings: Firing[] = [];
  const gcs: [number, number][] = [];
  let meta: Meta | null = null;
  for (const line of fs.readFileSync(firingsFile, 'utf8').split('\n')) {
    if (line.startsWith('# meta ')) meta = JSON.parse(line.slice(7)) as Meta;
    else if (line.startsWith('# gc ')) {
      const [from, to] = line.slice(5).split(' ').map(Number);
      gcs.push([from!, to!]);
    } else if (line.trim() !== '') {
      const [due, fired] = line.split(' ').map(Number);
      firings.push({ due: due!, fired: fired! });
    }
  }
  if (!meta) throw new Error(`${firingsFile}: no meta line`);
  const names = nameThreads(meta);
  const mainTid = meta.pid;
  // --partner FILE: the other program of a pair run on the same CPU at the same time (its
  // firings file names its process), so that its share is not counted as the machine's.
  const partnerFile = arg('--partner', '');
  const partner = partnerFile === '' ? null : (JSON.parse(/^# meta (.*)$/m.exec(fs.readFileSync(partnerFile, 'utf8'))![1]!) as Meta);

  // perf script: sched_switch on the traced CPU gives who ran when; the main thread's
  // sched_waking and its switch-ins give when it was runnable but not running.
  const text = execFileSync('perf', ['script', '-i', perfData, '-F', 'pid,tid,cpu,time,event,trace'], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const slices: Slice[] = [];
  const runnable: [number, number][] = [];
  /** Per runnable stretch: did it start with a wake-up (false) or a preemption (true)? */
  const preempted: boolean[] = [];
  let wokenAt = -1;
  let wasPreempted = false;
  const pidOf = new Map<number, number>();
  let onCpu: { tid: number; comm: string; since: number } | null = null;
  const re = /^\s*(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s*(.*)$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    pidOf.set(Number(m[2]), Number(m[1]));
    const c = Number(m[3]);
    const t = Math.round(Number(m[4]) * 1e9);
    const ev = m[5]!;
    const rest = m[6]!;
    if (ev === 'sched_waking' && / pid=(\d+)/.exec(rest)?.[1] === String(mainTid) && wokenAt < 0) {
      wokenAt = t;
      wasPreempted = false;
    }
    if (ev !== 'sched_switch' || c !== cpu) continue;
    const s = /prev_comm=(.*?) prev_pid=(\d+) .*==> next_comm=(.*?) next_pid=(\d+)/.exec(rest);
    if (!s) continue;
    if (onCpu) slices.push({ from: onCpu.since, to: t, tid: onCpu.tid, comm: onCpu.comm, pid: 0 });
    onCpu = { tid: Number(s[4]), comm: s[3]!, since: t };
    if (onCpu.tid === mainTid && wokenAt >= 0) {
      runnable.push([wokenAt, t]);
      preempted.push(wasPreempted);
      wokenAt = -1;
    }
    // Preempted while running: runnable again from this instant.
    if (Number(s[2]) === mainTid && / prev_state=R\+? /.test(rest)) {
      wokenAt = t;
      wasPreempted = true;
    }
  }
  for (const s of slices) s.pid = pidOf.get(s.tid) ?? -1;

  const sourceOf = (s: Slice): string => {
    if (s.tid === 0) return 'idle';
    const own = names.get(s.tid);
    if (own !== undefined) return `ours: ${own.replace(/ \(.*\)$/, '')}`;
    if (s.pid === mainTid) return `ours: thread ${s.tid} (${s.comm})`;
    if (partner && (s.pid === partner.pid || s.tid === partner.pid)) return `partner: ${partner.impl} (${s.tid === partner.pid ? 'main thread' : 'helper thread'})`;
    return `other: ${categoryOf(s.comm)}`;
  };
  const traced = slices.length > 0 ? { from: slices[0]!.from, to: slices[slices.length - 1]!.to } : { from: 0, to: 0 };
  const late = firings.filter((f) => (f.fired - f.due) / 1000 > lateUs);
  const inTrace = late.filter((f) => f.due >= traced.from && f.fired <= traced.to).sort((a, b) => a.due - b.due);
  // Late firings' windows overlap (ten chains, one stall delays several): each ns of CPU is
  // counted once, over the union of the windows.
  const union: [number, number][] = [];
  for (const f of inTrace) {
    const last = union[union.length - 1];
    if (last && f.due <= last[1]) last[1] = Math.max(last[1], f.fired);
    else union.push([f.due, f.fired]);
  }
  const firstSlice = (t: number): number => {
    let a = 0;
    let b = slices.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (slices[m]!.to <= t) a = m + 1;
      else b = m;
    }
    return a;
  };
  const bySource = new Map<string, { firings: number; us: number; tids: Set<number> }>();
  const entry = (src: string): { firings: number; us: number; tids: Set<number> } => {
    let b = bySource.get(src);
    if (!b) bySource.set(src, (b = { firings: 0, us: 0, tids: new Set<number>() }));
    return b;
  };
  const ranIn = (from: number, to: number): Map<string, number> => {
    const here = new Map<string, number>();
    for (let k = firstSlice(from); k < slices.length && slices[k]!.from < to; k++) {
      const s = slices[k]!;
      const ns = Math.min(s.to, to) - Math.max(s.from, from);
      if (ns <= 0) continue;
      const src = sourceOf(s);
      here.set(src, (here.get(src) ?? 0) + ns);
      entry(src).tids.add(s.tid);
    }
    return here;
  };
  const worst: { lateUs: number; runnableUs: number; gcUs: number; ran: Record<string, number> }[] = [];
  for (const f of inTrace) {
    const here = ranIn(f.due, f.fired);
    for (const src of here.keys()) entry(src).firings++;
    worst.push({
      lateUs: Math.round((f.fired - f.due) / 1000),
      runnableUs: Math.round(overlap(runnable, f.due, f.fired) / 1000),
      gcUs: Math.round(overlap(gcs, f.due, f.fired) / 1000),
      ran: Object.fromEntries([...here].map(([k, v]) => [k, Math.round(v / 1000)])),
    });
  }
  let windowUs = 0;
  let runnableUs = 0;
  let gcUs = 0;
  for (const [a, b] of union) {
    windowUs += (b - a) / 1000;
    runnableUs += overlap(runnable, a, b) / 1000;
    gcUs += overlap(gcs, a, b) / 1000;
    for (const [src, ns] of ranIn(a, b)) entry(src).us += ns / 1000;
  }
  // The whole recorded pass, from the first deadline to the last firing: the main thread's CPU
  // time and its time runnable but not running (from the trace, the same for C and for ours).
  const passFrom = Math.min(...firings.map((f) => f.due));
  const passTo = Math.max(...firings.map((f) => f.fired));
  let passCpu = 0;
  for (let k = firstSlice(passFrom); k < slices.length && slices[k]!.from < passTo; k++) {
    const sl = slices[k]!;
    if (sl.tid === mainTid) passCpu += Math.max(0, Math.min(sl.to, passTo) - Math.max(sl.from, passFrom));
  }
  // The main thread's waits for the CPU in the pass, after a wake-up and after a preemption.
  const waits = (pre: boolean): { n: number; p99Us: number; over200: number; ms: number } => {
    const d = runnable
      .filter(([a, b], k) => preempted[k] === pre && a >= passFrom && b <= passTo)
      .map(([a, b]) => (b - a) / 1000)
      .sort((x, y) => x - y);
    const ms = d.reduce((x, y) => x + y, 0) / 1000;
    return { n: d.length, p99Us: Math.round(d[Math.floor(0.99 * (d.length - 1))] ?? 0), over200: d.filter((x) => x > 200).length, ms: Math.round(ms) };
  };
  const pass = {
    ms: Math.round((passTo - passFrom) / 1e6),
    mainCpuMs: Math.round(passCpu / 1e6),
    mainRunnableMs: Math.round(overlap(runnable, passFrom, passTo) / 1e6),
    afterWake: waits(false),
    afterPreemption: waits(true),
  };
  const lateness = firings.map((f) => (f.fired - f.due) / 1000).sort((a, b) => a - b);
  const q = (p: number): number => Math.round(lateness[Math.min(lateness.length - 1, Math.floor(p * lateness.length))]!);
  const summary = {
    impl: meta.impl,
    ...(meta.spinUs !== undefined ? { spinUs: meta.spinUs } : {}),
    ...(meta.main ? { main: meta.main } : {}),
    firings: firings.length,
    early: lateness.filter((x) => x < 0).length,
    p50Us: q(0.5),
    p99Us: q(0.99),
    maxUs: Math.round(lateness[lateness.length - 1]!),
    lateUs,
    pass,
    late: late.length,
    outsideTrace: late.length - inTrace.length,
    stallWindows: union.length,
    stallUs: Math.round(windowUs),
    mainRunnableUs: Math.round(runnableUs),
    gcUs: Math.round(gcUs),
    gcCollections: gcs.length,
    sources: Object.fromEntries(
      [...bySource]
        .sort((a, b) => b[1].us - a[1].us)
        .map(([k, v]) => [k, { firings: v.firings, us: Math.round(v.us), tids: [...v.tids].slice(0, 6) }]),
    ),
    threads: [...names].map(([tid, name]) => `${tid} ${name}`),
    worst: worst.sort((a, b) => b.lateUs - a.lateUs).slice(0, 5),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
}

/** `table FILE.json…`: the analyses of several rounds summed per source, as a Markdown table. */
function table(files: string[]): void {
  interface Analysis {
    late: number;
    stallUs: number;
    mainRunnableUs: number;
    sources: Record<string, { firings: number; us: number }>;
  }
  const rows = new Map<string, { firings: number; us: number }>();
  let late = 0;
  let stallUs = 0;
  let runnableUs = 0;
  for (const f of files) {
    const a = JSON.parse(fs.readFileSync(f, 'utf8')) as Analysis;
    late += a.late;
    stallUs += a.stallUs;
    runnableUs += a.mainRunnableUs;
    for (const [k, v] of Object.entries(a.sources)) {
      const r = rows.get(k) ?? { firings: 0, us: 0 };
      r.firings += v.firings;
      r.us += v.us;
      rows.set(k, r);
    }
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const out = [`${files.length} runs: ${fmt(late)} firings > the threshold, ${fmt(stallUs)} µs in their windows (union), main thread runnable-not-running ${fmt(runnableUs)} µs of it`, '', '| who ran on the CPU | late firings it ran in | µs |', '| --- | ---: | ---: |'];
  for (const [k, v] of [...rows].sort((a, b) => b[1].us - a[1].us)) out.push(`| ${k} | ${fmt(v.firings)} | ${fmt(v.us)} |`);
  process.stdout.write(`${out.join('\n')}\n`);
}

const mode = process.argv[2];
if (mode === 'run') {
  runOurs(arg('--out', 'firings.txt')).catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
} else if (mode === 'cbuild') cbuild(arg('--out', 'timers-dump'));
else if (mode === 'analyze') analyze();
else if (mode === 'table') table(process.argv.slice(3));
else {
  console.error('usage: timer-stalls.js run --out FILE [--spin-us US] | cbuild --out BIN | analyze --firings FILE --perf PERF.DATA [--cpu 1] [--late-us 200] | table ANALYSIS.json…');
  process.exit(2);
}
