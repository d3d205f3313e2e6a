/**
 * Lesson 4 — poll(2) looks at every fd on every call; epoll_wait(2) looks at its ready list.
 *
 *   node dist/examples/learn/04-poll-vs-epoll.js [--quick] [--json] [--svg PATH]
 *
 * n idle fds and one ready fd. We time one call of each, many times over:
 *
 *   poll(all n + 1 fds, timeout)   the kernel walks the whole array: for each fd it calls the
 *                                  fd's poll operation and, as long as it has found nothing ready
 *                                  (it may have to sleep), hooks the thread onto that fd's wait
 *                                  queue — and unhooks it from all of them before returning.
 *                                  O(n) per call.
 *   epoll_wait(epfd, timeout)      the n + 1 fds were registered once (epoll_ctl); the ready one
 *                                  sits on the epoll's ready list, put there by a callback. The
 *                                  call copies the ready list out. O(ready) per call.
 *
 * n = 10, 100, 1,000, 10,000. The idle fds are eventfds (counter 0: never readable), one fd
 * each — 10,000 pipes would be 20,000 fds, at this machine's RLIMIT_NOFILE. The ready one is an
 * eventfd with counter 1, never read, so it stays readable (level-triggered) for every call.
 *
 * Prints a table and writes an SVG chart (`--svg PATH`; by default learn-04-poll-vs-epoll.svg in
 * the temp directory, os.tmpdir(): a run never writes into the project). It checks first that
 * `ulimit -n` leaves room for the 10,003 fds it opens at once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sys } from '../../lib/index';
import { fmt, type LessonIO, main, requireFdsFor, table } from './course';

export interface Row {
  /** Idle fds (one more is ready). */
  n: number;
  /** Mean cost of one call, µs (median over rounds). */
  pollUs: number;
  epollUs: number;
  /** poll with timeout 0: the same walk, minus hooking onto (and off) every wait queue. */
  pollPeekUs: number;
  /** One-time cost of registering the n + 1 fds with epoll_ctl, µs per fd. */
  ctlUsPerFd: number;
  /** Calls timed, each way. */
  calls: number;
}

export interface Result {
  rows: Row[];
  /** Cost at the largest n divided by the cost at the smallest. */
  pollGrowth: number;
  epollGrowth: number;
  /** poll's extra cost per watched fd (ns), from the slope between the smallest and largest n. */
  pollNsPerFd: number;
  svg: string;
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const sizes = [10, 100, 1000, 10_000];
  const rounds = io.quick ? 5 : 11; // alternating rounds of poll and epoll; the median is kept
  const batchMs = io.quick ? 4 : 25; // each round times a batch of calls lasting about this long
  const timeoutMs = 1000; // never reached: one fd is always ready. A real wait, not a peek.
  const largest = sizes.at(-1)!;
  requireFdsFor('lesson 4', largest + 2, `${largest.toLocaleString('en-US')} idle eventfds, a ready one and an epoll fd`);
  say(`fd limit (RLIMIT_NOFILE): ${/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1]}`);
  say(`n idle eventfds + 1 ready one; ${rounds} rounds of ~${batchMs} ms per method and n; timeout ${timeoutMs} ms.`);
  say();

  const rows: Row[] = [];
  for (const n of sizes) {
    const fds: number[] = [];
    let epfd = -1;
    try {
      // ── the fds: n idle, then the ready one last ────────────────────────────────────────────
      // poll walks the array in order, hooking the thread onto each fd's wait queue (it may have
      // to sleep) until it meets a ready fd. With the ready one last, it hooks onto all n first.
      // (The "timeout 0" column shows the walk alone: a call that cannot sleep hooks nothing.)
      for (let i = 0; i < n; i++) fds.push(sys.eventfd(0, sys.EFD_NONBLOCK));
      fds.push(sys.eventfd(1, sys.EFD_NONBLOCK));

      // ── poll's view: an array of (fd, events, revents) handed over on every call ──────────
      const pollfds = new Int32Array(3 * fds.length);
      fds.forEach((fd, i) => pollfds.set([fd, sys.POLLIN, 0], 3 * i));

      // ── epoll's view: register once; the kernel keeps the set (and a callback on each fd) ──
      epfd = sys.epoll_create1();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < fds.length; i++) sys.epoll_ctl(epfd, sys.EPOLL_CTL_ADD, fds[i]!, sys.EPOLLIN, i);
      const ctlUsPerFd = Number(process.hrtime.bigint() - t0) / 1000 / fds.length;
      const events = new Uint32Array(2 * 16);

      const pollOnce = () => sys.poll(pollfds, timeoutMs);
      const pollPeek = () => sys.poll(pollfds, 0);
      const epollOnce = () => sys.epoll_wait(epfd, events, timeoutMs);
      // Both must see exactly the one ready fd, every time.
      if (pollOnce() !== 1 || pollfds[3 * n + 2] !== sys.POLLIN) throw new Error('poll: expected only the last fd ready');
      if (epollOnce() !== 1 || events[1] !== n) throw new Error('epoll_wait: expected only the last fd ready');

      // The first n also warms up: the JIT compiles these loops, caches fill, the CPU clocks up.
      if (n === sizes[0]) for (const fn of [pollOnce, pollPeek, epollOnce]) timeBatch(fn, batchSize(fn, 5 * batchMs));
      const pollBatch = batchSize(pollOnce, batchMs);
      const peekBatch = batchSize(pollPeek, batchMs);
      const epollBatch = batchSize(epollOnce, batchMs);
      const pollRounds: number[] = [];
      const peekRounds: number[] = [];
      const epollRounds: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // alternate the order, so that no method always runs right after the same other one
        const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
        for (const which of order) {
          if (which === 0) pollRounds.push(timeBatch(pollOnce, pollBatch));
          else if (which === 1) peekRounds.push(timeBatch(pollPeek, peekBatch));
          else epollRounds.push(timeBatch(epollOnce, epollBatch));
        }
      }
      rows.push({
        n,
        pollUs: median(pollRounds),
        epollUs: median(epollRounds),
        pollPeekUs: median(peekRounds),
        ctlUsPerFd,
        calls: rounds * Math.min(pollBatch, epollBatch),
      });
    } finally {
      if (epfd >= 0) sys.close(epfd);
      for (const fd of fds) sys.close(fd);
    }
  }

  const first = rows[0]!;
  const last = rows.at(-1)!;
  table(say, [
    ['idle fds', 'poll µs/call', 'epoll_wait µs/call', 'poll / epoll', 'poll, timeout 0', 'epoll_ctl µs/fd (once)'],
    ...rows.map((r) => [
      r.n.toLocaleString('en-US'),
      fmt(r.pollUs, 2),
      fmt(r.epollUs, 2),
      `${fmt(r.pollUs / r.epollUs)}×`,
      fmt(r.pollPeekUs, 2),
      fmt(r.ctlUsPerFd, 2),
    ]),
  ]);
  const pollGrowth = last.pollUs / first.pollUs;
  const epollGrowth = last.epollUs / first.epollUs;
  const pollNsPerFd = ((last.pollUs - first.pollUs) * 1000) / (last.n - first.n);
  say();
  say(`From ${first.n} to ${last.n.toLocaleString('en-US')} idle fds: poll costs ${fmt(pollGrowth)}× more per call, epoll_wait ${fmt(epollGrowth, 2)}×.`);
  say(`poll pays about ${fmt(pollNsPerFd, 0)} ns per watched fd per call, ready or not; epoll_wait pays for the ready ones.`);
  say(`Of poll's cost at ${last.n.toLocaleString('en-US')}, ${fmt((100 * (last.pollUs - last.pollPeekUs)) / last.pollUs, 0)} % is hooking the thread onto every wait queue and off again`);
  say('(a poll with timeout 0 never sleeps, so it skips that; it still walks every fd).');
  say(`epoll's per-fd cost moved to registration: ${fmt(last.ctlUsPerFd, 2)} µs per fd, once, in epoll_ctl.`);

  const svg = resolve(io.options.svg ?? join(tmpdir(), 'learn-04-poll-vs-epoll.svg'));
  writeFileSync(svg, chart(rows));
  say();
  say(`chart: ${svg}`);
  return { rows, pollGrowth, epollGrowth, pollNsPerFd, svg };
}

/** How many calls of `fn` take about `ms` (at least 3). */
function batchSize(fn: () => number, ms: number): number {
  let calls = 1;
  for (;;) {
    const t = timeBatch(fn, calls) * calls; // µs for `calls` calls
    if (t >= ms * 100 || calls >= 1 << 22) return Math.max(3, Math.ceil((calls * ms * 1000) / Math.max(t, 1)));
    calls *= 4;
  }
}

/** Mean µs per call over `calls` calls of `fn`. */
function timeBatch(fn: () => number, calls: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / calls;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A log-log line chart of µs per call against n, as plain SVG text. */
function chart(rows: Row[]): string {
  const W = 760;
  const H = 440;
  const left = 80;
  const right = 150;
  const top = 64;
  const bottom = 56;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const values = rows.flatMap((r) => [r.pollUs, r.epollUs]);
  const yLo = Math.floor(Math.log10(Math.min(...values)));
  const yHi = Math.ceil(Math.log10(Math.max(...values)));
  const xLo = Math.log10(rows[0]!.n);
  const xHi = Math.log10(rows.at(-1)!.n);
  const x = (n: number) => left + ((Math.log10(n) - xLo) / (xHi - xLo)) * pw;
  const y = (us: number) => top + ph - ((Math.log10(us) - yLo) / (yHi - yLo)) * ph;
  const num = (v: number) => (v >= 100 ? fmt(v, 0) : v >= 10 ? fmt(v, 1) : fmt(v, 2));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="13">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">The cost of one wait: n idle fds and one ready</text>`);
  out.push(
    `<text x="${left}" y="44" fill="#555">µs per call, log-log; ${cpus().length} cores, Node ${process.version}, Linux ${release()}</text>`,
  );
  // grid and axes: one line per decade
  for (let d = yLo; d <= yHi; d++) {
    const us = 10 ** d;
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${y(us)}" y2="${y(us)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 8}" y="${y(us) + 4}" text-anchor="end">${us >= 1 ? us.toLocaleString('en-US') : us} µs</text>`);
  }
  for (const r of rows) {
    out.push(`<line x1="${x(r.n)}" x2="${x(r.n)}" y1="${top}" y2="${top + ph}" stroke="#ddd"/>`);
    out.push(`<text x="${x(r.n)}" y="${top + ph + 20}" text-anchor="middle">${r.n.toLocaleString('en-US')}</text>`);
  }
  out.push(`<text x="${left + pw / 2}" y="${H - 12}" text-anchor="middle">idle fds watched (plus one ready)</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  // the two lines, with their values
  const series = [
    { name: 'poll(2)', color: '#d62728', at: (r: Row) => r.pollUs, dy: -10 },
    { name: 'epoll_wait(2)', color: '#1f77b4', at: (r: Row) => r.epollUs, dy: 20 },
  ];
  for (const s of series) {
    const points = rows.map((r) => `${x(r.n).toFixed(1)},${y(s.at(r)).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
    for (const r of rows) {
      out.push(`<circle cx="${x(r.n).toFixed(1)}" cy="${y(s.at(r)).toFixed(1)}" r="4" fill="${s.color}"/>`);
      out.push(`<text x="${x(r.n).toFixed(1)}" y="${(y(s.at(r)) + s.dy).toFixed(1)}" text-anchor="middle" fill="${s.color}">${num(s.at(r))}</text>`);
    }
  }
  // legend
  series.forEach((s, i) => {
    const ly = top + 20 + 24 * i;
    out.push(`<line x1="${left + pw + 16}" x2="${left + pw + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"/>`);
    out.push(`<text x="${left + pw + 46}" y="${ly + 4}">${s.name}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

main(module, run, {
  about:
    'Lesson 4 — poll(2) looks at every fd on every call, epoll_wait(2) at its ready list: the cost\nof one wait over 10 to 10,000 idle fds, as a table and an SVG chart.',
  flags: { svg: { value: 'PATH', help: 'where to write the chart (default: learn-04-poll-vs-epoll.svg in the temp directory)' } },
});
