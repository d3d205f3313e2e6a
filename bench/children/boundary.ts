/**
 * Boundary-cost child: what one crossing of the JS ↔ native boundary costs, and what one
 * delivered event costs, measured in-process.
 *
 *   node dist/bench/children/boundary.js [--sample-ms 50] [--samples 7]
 *
 * Each case runs a calibrated number of operations per sample (about --sample-ms), --samples
 * times; the median ns per operation is printed. One JSON line: `{"type":"boundary","rows":[…]}`.
 *
 * Cases:
 * - a JS no-op call (the floor of the measuring loop itself);
 * - `sys.clock_gettime` (the cheapest native call: no syscall, vDSO) and `process.hrtime.bigint`;
 * - `sys.epoll_wait(epfd, events, 0)` and `sys.epoll_pwait2(…, 0)` with 0, 1 and 64 ready pipes
 *   (level-triggered, so they stay ready): native call + syscall + copying the events out;
 * - `loop.runNoWait()` with 0, 1 and 64 ready watchers (no-op callbacks): one whole iteration,
 *   so ns per delivered event = time / events;
 * - an attached loop (`loop.attach()`) with 1 and 64 always-ready watchers: ns per turn as libuv
 *   drives it (libuv's epoll_wait + napi_make_callback + our turn + the nextTick/microtask drain);
 * - the always-on loop stats: the counter updates one iteration does (LoopCounters) and one
 *   `LatencyHistogram.add` per fired timer, timed on those classes directly since the loop's
 *   own stats cannot be switched off.
 */
import type * as Lib from '../../lib/index';
import type * as Stats from '../../lib/reactor/stats';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const sampleMs = Number(arg('--sample-ms', '50'));
const samples = Number(arg('--samples', '7'));

const lib = require('../../lib/index') as typeof Lib;
const stats = require('../../lib/reactor/stats') as typeof Stats;
const { sys } = lib;

interface Row {
  id: string;
  label: string;
  /** Median ns per operation (call, iteration or turn). */
  ns: number;
  /** Events delivered per operation, when that applies. */
  events?: number;
}

const rows: Row[] = [];
let sink = 0;

function hr(): number {
  return Number(process.hrtime.bigint());
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median ns per op of `fn(n)` (which performs n ops), n calibrated to ~sampleMs per sample. */
function measure(fn: (n: number) => void): number {
  let n = 64;
  const target = sampleMs * 1e6;
  for (;;) {
    const t = hr();
    fn(n);
    const dt = hr() - t;
    if (dt >= target / 8) {
      n = Math.max(1, Math.ceil((n * target) / dt));
      break;
    }
    n *= 4;
  }
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t = hr();
    fn(n);
    per.push((hr() - t) / n);
  }
  return median(per);
}

function add(id: string, label: string, ns: number, events?: number): void {
  rows.push(events === undefined ? { id, label, ns } : { id, label, ns, events });
}

/** `count` non-blocking pipes with one byte in each: their read ends stay readable. */
function readyPipes(count: number): { r: number[]; w: number[] } {
  const r: number[] = [];
  const w: number[] = [];
  const one = Buffer.from('x');
  for (let i = 0; i < count; i++) {
    const [a, b] = sys.pipe2(sys.O_NONBLOCK);
    sys.write(b, one);
    r.push(a);
    w.push(b);
  }
  return { r, w };
}

function closePipes(p: { r: number[]; w: number[] }): void {
  for (const fd of [...p.r, ...p.w]) sys.close(fd);
}

function noop(x: number): number {
  return x;
}

async function main(): Promise<void> {
  // ── floor and the cheapest native calls ──
  add('js-call', 'JS function call (loop floor)', measure((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += noop(i);
    sink += s;
  }));
  const CLOCK = sys.CLOCK_MONOTONIC;
  add('clock_gettime', 'sys.clock_gettime (native, vDSO, no syscall)', measure((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += sys.clock_gettime(CLOCK);
    sink += s;
  }));
  add('hrtime', 'process.hrtime.bigint (Node, for reference)', measure((n) => {
    let s = 0n;
    for (let i = 0; i < n; i++) s += process.hrtime.bigint();
    sink += Number(s & 1n);
  }));

  // ── epoll_wait / epoll_pwait2 with 0, 1, 64 ready fds ──
  const events = new Uint32Array(2 * 128);
  for (const ready of [0, 1, 64]) {
    const epfd = sys.epoll_create1();
    const pipes = readyPipes(ready);
    pipes.r.forEach((fd, i) => sys.epoll_ctl(epfd, sys.EPOLL_CTL_ADD, fd, sys.EPOLLIN, i));
    add(`epoll_wait-${ready}`, `sys.epoll_wait(epfd, events, 0), ${ready} ready`, measure((n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += sys.epoll_wait(epfd, events, 0);
      if (s !== n * ready) throw new Error(`epoll_wait returned ${s / n}, expected ${ready}`);
      sink += s;
    }), ready);
    if (ready > 0) {
      try {
        add(`epoll_pwait2-${ready}`, `sys.epoll_pwait2(epfd, events, 0), ${ready} ready`, measure((n) => {
          let s = 0;
          for (let i = 0; i < n; i++) s += sys.epoll_pwait2(epfd, events, 0);
          sink += s;
        }), ready);
      } catch (e) {
        if (!sys.isSystemError(e, 'ENOSYS')) throw e;
      }
    }
    closePipes(pipes);
    sys.close(epfd);
  }

  // ── one loop iteration (runNoWait) with 0, 1, 64 ready watchers ──
  for (const ready of [0, 1, 64]) {
    const loop = new lib.Loop();
    const pipes = ready > 0 ? readyPipes(ready) : readyPipes(0);
    let delivered = 0;
    const cb = (): void => {
      delivered++;
    };
    const watchers = pipes.r.map((fd) => loop.watch(fd, sys.EPOLLIN, cb));
    // With nothing ready the loop must still be alive: watch an empty pipe.
    const idle = ready === 0 ? sys.pipe2(sys.O_NONBLOCK) : null;
    const idleWatcher = idle ? loop.watch(idle[0], sys.EPOLLIN, cb) : null;
    const ns = measure((n) => {
      for (let i = 0; i < n; i++) loop.runNoWait();
    });
    if (ready > 0 && delivered === 0) throw new Error('runNoWait delivered no events');
    add(`runNoWait-${ready}`, `loop.runNoWait(), ${ready} ready watcher${ready === 1 ? '' : 's'}`, ns, ready);
    for (const w of watchers) w.close();
    idleWatcher?.close();
    if (idle) idle.forEach((fd) => sys.close(fd));
    closePipes(pipes);
    loop.close();
  }

  // ── attached: turns per second as libuv drives the loop ──
  for (const ready of [1, 64]) {
    const loop = new lib.Loop();
    const pipes = readyPipes(ready);
    let delivered = 0;
    const cb = (): void => {
      delivered++;
    };
    const watchers = pipes.r.map((fd) => loop.watch(fd, sys.EPOLLIN, cb));
    loop.attach();
    const per: number[] = [];
    for (let s = 0; s < samples; s++) {
      const t0 = hr();
      const before = loop.stats().iterations;
      await new Promise<void>((r) => setTimeout(r, sampleMs));
      const iterations = loop.stats().iterations - before;
      if (iterations > 0) per.push((hr() - t0) / iterations);
    }
    loop.detach();
    if (per.length > 0) add(`attached-${ready}`, `attached turn (libuv-driven), ${ready} ready watcher${ready === 1 ? '' : 's'}`, median(per), ready);
    for (const w of watchers) w.close();
    closePipes(pipes);
    loop.close();
    sink += delivered;
  }

  // ── the always-on stats ──
  // What `_turn` adds per iteration for stats: iterations++, asleep time (+ one clock read, timed
  // separately above as clock_gettime), delivered/max events, the wake-up reason.
  const c = new stats.LoopCounters();
  const ns = [0, 1, 0, 3, 64, 0, 2, 1];
  add('stats-counters', 'LoopCounters updates of one iteration', measure((n) => {
    for (let i = 0; i < n; i++) {
      const k = ns[i & 7]!;
      c.iterations++;
      c.asleepMs += 0.001 * k;
      if (k > 0) {
        c.eventsDelivered += k;
        if (k > c.eventsMax) c.eventsMax = k;
        c.ioWakeups++;
      } else if ((i & 1) === 0) c.timerWakeups++;
      else c.immediateWakeups++;
    }
  }));
  const h = new stats.LatencyHistogram();
  const lateness = new Float64Array(1024);
  for (let i = 0; i < lateness.length; i++) lateness[i] = (i * 7919) % 2000 / 1000; // 0–2 ms
  add('stats-histogram', 'LatencyHistogram.add (one per fired timer)', measure((n) => {
    for (let i = 0; i < n; i++) h.add(lateness[i & 1023]!);
  }));
  sink += c.iterations + h.total;

  process.stdout.write(`${JSON.stringify({ type: 'boundary', rows, sink: sink % 2 })}\n`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
