/**
 * Turns the suites' raw runs into the Markdown report (medians and min–max across rounds,
 * ratios computed per round and then summarised) and the SVG charts.
 */
import type { BoundaryResult, BoundaryRow } from '../suites/boundary';
import type { EchoResult, EchoRun } from '../suites/echo';
import type { HttpResult, HttpRun, ServerInfo } from '../suites/http';
import type { IdleResult, IdleRun } from '../suites/idle';
import type { TimersResult } from '../suites/timers';
import { timerTargets, timersSection } from './report-timers';
import { cell, defined, failures, fmtMargin, labelOf, OURS, perRound, roundsOf, table, unavailableNote, verdict } from './report-util';
import { fmtBytes, fmtNum, fmtRatio, fmtSummary, fmtUs, ratios, type Summary, summarize } from './stats';
import { type BarSeries, groupedBars, percentileLines } from './svg';

export interface Meta {
  date: string;
  mode: string;
  settingsText: string;
  machine: string;
  placement: string;
  loadBefore: string;
  loadAfter: string;
  commit: string;
  totalSeconds: number;
  /** Seconds each suite took. */
  suiteSeconds?: Record<string, number>;
  node: string;
  wrk: string;
  /** The libuv of the C baselines on libuv (runs from before them lack it). */
  libuv?: string;
  notes: string[];
}

export interface Results {
  meta: Meta;
  http?: HttpResult;
  echo?: EchoResult;
  timers?: TimersResult;
  idle?: IdleResult;
  boundary?: BoundaryResult;
}

// ── 1. HTTP ─────────────────────────────────────────────────────────────────────────────────

function httpSection(h: HttpResult, charts: string[]): string {
  let md = '## 1. HTTP plaintext keep-alive\n\n';
  if (h.skipped) return `${md}Skipped: ${h.skipped}\n\n`;
  const R = roundsOf(h.runs);
  md += unavailableNote(h.servers);
  const rows: string[][] = [];
  for (const conns of h.connections) {
    for (const s of h.servers) {
      const pr = (f: (r: HttpRun) => number | undefined) => perRound(h.runs, s.id, conns, R, f);
      const rps = pr((r) => r.rps);
      const perCpu = pr((r) => r.reqPerCpuS);
      const available = s.available && defined(rps).length > 0;
      const ratioCell = (base: string): string => {
        if (!available) return '–';
        if (s.id === base) return '1 · 1';
        const pc = summarize(ratios(perCpu, perRound(h.runs, base, conns, R, (r) => r.reqPerCpuS)));
        const raw = summarize(ratios(rps, perRound(h.runs, base, conns, R, (r) => r.rps)));
        return pc && raw ? `${fmtRatio(pc)} · ${fmtRatio(raw)}` : '–';
      };
      const p99 = summarize(defined(pr((r) => r.latencyUs?.p99)));
      rows.push([
        s.label,
        String(conns),
        cell(h.servers, s.id, summarize(defined(rps)), (x) => fmtSummary(x, 0)),
        cell(h.servers, s.id, summarize(defined(pr((r) => r.cpuShare && r.cpuShare * 100))), (x) => fmtSummary(x, 0, '%')),
        cell(h.servers, s.id, summarize(defined(pr((r) => r.cpuUsPerReq))), (x) => fmtSummary(x, 2)),
        cell(h.servers, s.id, summarize(defined(perCpu)), (x) => fmtSummary(x, 0)),
        cell(h.servers, s.id, summarize(defined(pr((r) => r.latencyUs?.p50))), (x) => `${fmtUs(x.median)} / ${fmtUs(p99?.median ?? Number.NaN)}`),
        ratioCell('node-net'),
        ratioCell('c'),
      ]);
    }
  }
  md += table(
    ['server', 'conns', 'req/s', 'server CPU', 'CPU-µs / req', 'req per CPU-s', 'latency p50 / p99', 'vs Node net: per CPU · raw', 'vs C: per CPU · raw'],
    rows,
  );
  md += '\n\n';
  md += ourRatios(
    h.servers,
    h.connections,
    ['c', 'c-mt', 'uv', 'node-net', 'node-http'],
    (id, conns, f) => perRound(h.runs, id, conns, R, f as (r: HttpRun) => number | undefined),
    'reqPerCpuS',
    'rps',
    'requests',
  );
  const checks = h.servers.filter((s) => s.response !== undefined);
  if (checks.length > 0) {
    md += `Response bytes (one GET, compared with bench/c/http-server.c's): ${checks.map((s) => `${s.id} ${s.response}`).join('; ')}.\n\n`;
  }
  const errs = h.runs.filter((r) => r.ok && ((r.non2xx ?? 0) > 0 || Object.values(r.socketErrors ?? {}).some((v) => v > 0)));
  if (errs.length > 0) {
    md += `wrk reported errors in ${errs.length} run(s): ${errs
      .slice(0, 8)
      .map((r) => `${r.server} ${r.conns}c r${r.round} (non-2xx ${r.non2xx}, socket ${JSON.stringify(r.socketErrors)})`)
      .join('; ')}.\n\n`;
  }
  const fails = failures(h.runs, (r) => `${r.server} ${r.conns}c round ${r.round}`);
  if (fails.length > 0) md += `Failed runs:\n${fails.map((f) => `- ${f}`).join('\n')}\n\n`;
  const groups = h.connections.map((c) => `${fmtNum(c, 0)} connections`);
  const series = (field: (r: HttpRun) => number | undefined): BarSeries[] =>
    h.servers.map((s) => ({
      id: s.id,
      label: s.label,
      values: h.connections.map((c) => summarize(defined(perRound(h.runs, s.id, c, R, field)))),
    }));
  charts.push(
    'http-throughput.svg',
    groupedBars({ title: 'HTTP keep-alive: requests per second', subtitle: 'wrk -t1, loopback; server and wrk pinned to different cores', groups, series: series((r) => r.rps), yLabel: 'requests / s' }),
    'http-per-cpu.svg',
    groupedBars({ title: 'HTTP keep-alive: requests per server CPU-second', subtitle: 'requests ÷ server CPU time (user + system, all threads) over the measured window', groups, series: series((r) => r.reqPerCpuS), yLabel: 'requests / CPU-s' }),
  );
  md += '![HTTP requests per second](http-throughput.svg)\n\n![HTTP requests per server CPU-second](http-per-cpu.svg)\n\n';
  return md;
}

/** "ours vs X" ratios, per CPU-second and raw, each computed per round then summarised. */
function ourRatios(
  servers: ServerInfo[],
  connections: number[],
  baselines: string[],
  values: (id: string, conns: number, f: (r: HttpRun | EchoRun) => number | undefined) => (number | undefined)[],
  perCpuField: 'reqPerCpuS' | 'msgsPerCpuS',
  rawField: 'rps' | 'msgsPerS',
  what: string,
): string {
  const present = baselines.filter((b) => servers.some((s) => s.id === b && s.available));
  const get = (field: string) => (r: HttpRun | EchoRun) => (r as unknown as Record<string, number | undefined>)[field];
  const rows: string[][] = [];
  for (const ours of OURS) {
    const info = servers.find((s) => s.id === ours);
    if (!info) continue;
    for (const conns of connections) {
      const row = [info.label, String(conns)];
      for (const b of present) {
        if (!info.available) row.push('not available yet');
        else row.push(fmtRatio(summarize(ratios(values(ours, conns, get(perCpuField)), values(b, conns, get(perCpuField))))));
      }
      for (const b of present) {
        if (!info.available) row.push('not available yet');
        else row.push(fmtRatio(summarize(ratios(values(ours, conns, get(rawField)), values(b, conns, get(rawField))))));
      }
      rows.push(row);
    }
  }
  if (rows.length === 0 || present.length === 0) return '';
  const name = (b: string): string => labelOf(servers, b);
  return (
    `Ours against the baselines — ${what} per server CPU-second (the target metric) and raw ${what}/s; ratio per round, then median (min–max); > 1 means ours is better:\n\n` +
    table(['ours', 'conns', ...present.map((b) => `per CPU vs ${name(b)}`), ...present.map((b) => `raw vs ${name(b)}`)], rows) +
    '\n\n'
  );
}

// ── 2. Echo ─────────────────────────────────────────────────────────────────────────────────

function echoSection(e: EchoResult, charts: string[]): string {
  let md = `## 2. TCP echo, ${e.size}-byte messages (closed loop)\n\n`;
  const R = roundsOf(e.runs);
  md += unavailableNote(e.servers);
  const rows: string[][] = [];
  const pr = (id: string, conns: number, f: (r: EchoRun) => number | undefined) => perRound(e.runs, id, conns, R, f);
  for (const conns of e.connections) {
    for (const s of e.servers) {
      if (!measuredAt(s, conns)) continue;
      const rate = pr(s.id, conns, (r) => r.msgsPerS);
      const perCpu = pr(s.id, conns, (r) => r.msgsPerCpuS);
      const ok = s.available && defined(rate).length > 0;
      const ratioCell = (base: string): string => {
        if (!ok) return '–';
        if (s.id === base) return '1 · 1';
        const pc = summarize(ratios(perCpu, pr(base, conns, (r) => r.msgsPerCpuS)));
        const raw = summarize(ratios(rate, pr(base, conns, (r) => r.msgsPerS)));
        return pc && raw ? `${fmtRatio(pc)} · ${fmtRatio(raw)}` : '–';
      };
      rows.push([
        s.label,
        String(conns),
        cell(e.servers, s.id, summarize(defined(rate)), (x) => fmtSummary(x, 0)),
        cell(e.servers, s.id, summarize(defined(pr(s.id, conns, (r) => r.cpuShare && r.cpuShare * 100))), (x) => fmtSummary(x, 0, '%')),
        cell(e.servers, s.id, summarize(defined(pr(s.id, conns, (r) => r.cpuUsPerMsg))), (x) => fmtSummary(x, 2)),
        cell(e.servers, s.id, summarize(defined(perCpu)), (x) => fmtSummary(x, 0)),
        cell(e.servers, s.id, summarize(defined(pr(s.id, conns, (r) => r.latencyUs?.p50))), (x) => fmtSummary(x, 0)),
        cell(e.servers, s.id, summarize(defined(pr(s.id, conns, (r) => r.latencyUs?.p99))), (x) => fmtSummary(x, 0)),
        ratioCell('node-net'),
        ratioCell('c'),
      ]);
    }
  }
  md += table(['server', 'conns', 'msgs/s', 'server CPU', 'CPU-µs / msg', 'msgs per CPU-s', 'RTT p50 µs', 'RTT p99 µs', 'vs Node net: per CPU · raw', 'vs C: per CPU · raw'], rows);
  md += '\n\n';
  md += ourRatios(
    e.servers,
    e.connections,
    ['c', 'uv', 'node-net'],
    (id, conns, f) => pr(id, conns, f as (r: EchoRun) => number | undefined),
    'msgsPerCpuS',
    'msgsPerS',
    'messages',
  );
  md += driverCost(e, pr);
  md += pipeSection(e, pr);
  const fails = failures(e.runs, (r) => `${r.server} ${r.conns}c round ${r.round}`);
  if (fails.length > 0) md += `Failed runs:\n${fails.map((f) => `- ${f}`).join('\n')}\n\n`;

  const groups = e.connections.map((c) => `${fmtNum(c, 0)} conn${c === 1 ? '' : 's'}`);
  // The charts show the servers measured at every connection count (not the pipe rows).
  const charted = e.servers.filter((s) => s.connections === undefined);
  const series = (field: (r: EchoRun) => number | undefined): BarSeries[] =>
    charted.map((s) => ({ id: s.id, label: s.label, values: e.connections.map((c) => summarize(defined(pr(s.id, c, field)))) }));
  charts.push(
    'echo-throughput.svg',
    groupedBars({ title: `Echo (${e.size} B): messages per second`, subtitle: 'closed loop: one message in flight per connection', groups, series: series((r) => r.msgsPerS), yLabel: 'messages / s', perGroupScale: true }),
    'echo-per-cpu.svg',
    groupedBars({ title: `Echo (${e.size} B): messages per server CPU-second`, subtitle: 'messages ÷ server CPU time over the measured window', groups, series: series((r) => r.msgsPerCpuS), yLabel: 'messages / CPU-s', perGroupScale: true }),
    'echo-latency.svg',
    percentileLines({
      title: `Echo (${e.size} B): round-trip latency percentiles`,
      subtitle: 'measured by echo-client from the first write to the last read of each message',
      xLabels: ['p50', 'p90', 'p99', 'max'],
      panels: e.connections.map((c) => ({
        title: `${fmtNum(c, 0)} connection${c === 1 ? '' : 's'}`,
        series: charted.map((s) => ({
          id: s.id,
          label: s.label,
          points: (['p50', 'p90', 'p99', 'max'] as const).map((p) => summarize(defined(pr(s.id, c, (r) => r.latencyUs?.[p])))?.median ?? null),
        })),
      })),
      yLabel: 'round trip',
      format: (v) => (v >= 1e6 ? `${+(v / 1e6).toPrecision(3)} s` : v >= 1000 ? `${+(v / 1000).toPrecision(3)} ms` : `${+v.toPrecision(3)} µs`),
    }),
  );
  md += '![Echo messages per second](echo-throughput.svg)\n\n![Echo messages per server CPU-second](echo-per-cpu.svg)\n\n![Echo latency percentiles](echo-latency.svg)\n\n';
  return md;
}

/** Whether a server of a throughput suite was measured at `conns` connections (the pipe rows: only at 100). */
function measuredAt(s: ServerInfo, conns: number): boolean {
  return s.connections === undefined || s.connections.includes(conns);
}

/** The pipe rows (issue 27): `socket.pipe(socket)` on our net against the same program on Node's. */
function pipeSection(e: EchoResult, pr: (id: string, conns: number, f: (r: EchoRun) => number | undefined) => (number | undefined)[]): string {
  const base = e.servers.find((s) => s.id === 'node-net-pipe');
  if (!base) return ''; // a run from before the pipe rows
  const conns = base.connections?.[0] ?? 100;
  let md = `### \`socket.pipe(socket)\` (${fmtNum(conns, 0)} connections)\n\n`;
  md += 'The echo written as `socket.pipe(socket)` — the stream layer: readable `data`, writable `write()`, the pipe\'s pause and resume — on our net and on Node\'s. Ratio per round, median (min–max); > 1 means ours is better. The last column is what the stream layer costs ours: the pipe server ÷ examples/echo-server.ts (a `data` handler calling `write()`) on the same driver.\n\n';
  const rows: string[][] = [];
  for (const [id, plain] of [
    ['ours-pipe', 'ours-standalone'],
    ['ours-pipe-node', 'ours-node'],
  ] as const) {
    const info = e.servers.find((s) => s.id === id);
    if (!info) continue;
    if (!info.available || !base.available) {
      rows.push([info.label, 'not available', '', '']);
      continue;
    }
    const r = (a: string, b: string, f: (x: EchoRun) => number | undefined) => fmtRatio(summarize(ratios(pr(a, conns, f), pr(b, conns, f))));
    rows.push([info.label, r(id, 'node-net-pipe', (x) => x.msgsPerCpuS), r(id, 'node-net-pipe', (x) => x.msgsPerS), r(id, plain, (x) => x.msgsPerCpuS)]);
  }
  md += table(['ours', 'per CPU vs Node net · pipe', 'raw vs Node net · pipe', 'per CPU vs the same driver with a `data` handler'], rows);
  return `${md}\n\n`;
}

/** What the node driver costs against the standalone one, on the same echo workload. */
function driverCost(e: EchoResult, pr: (id: string, conns: number, f: (r: EchoRun) => number | undefined) => (number | undefined)[]): string {
  const a = e.servers.find((s) => s.id === 'ours-standalone');
  const b = e.servers.find((s) => s.id === 'ours-node');
  let md = '### The node driver against the standalone driver (same echo workload)\n\n';
  if (!a?.available || !b?.available) {
    return `${md}Not available yet: ${[a, b]
      .filter((s) => s && !s.available)
      .map((s) => `${s!.id} (${s!.reason})`)
      .join('; ')}.\n\n`;
  }
  const rows = e.connections.map((c) => {
    const r = (f: (r: EchoRun) => number | undefined) => summarize(ratios(pr('ours-node', c, f), pr('ours-standalone', c, f)));
    const diff = (f: (r: EchoRun) => number | undefined): string => {
      const x = pr('ours-node', c, f);
      const y = pr('ours-standalone', c, f);
      const d: number[] = [];
      for (let i = 0; i < x.length; i++) if (x[i] !== undefined && y[i] !== undefined) d.push(x[i]! - y[i]!);
      const s = summarize(d);
      return s ? `${s.median >= 0 ? '+' : ''}${fmtSummary(s, 1)}` : '–';
    };
    return [
      String(c),
      fmtRatio(r((x) => x.msgsPerS)),
      fmtRatio(r((x) => x.msgsPerCpuS)),
      diff((x) => x.cpuUsPerMsg),
      diff((x) => x.latencyUs?.p50),
      diff((x) => x.latencyUs?.p99),
    ];
  });
  md += 'Node driver ÷ standalone (ratio per round, median (min–max); < 1 = the node driver is slower), and node − standalone differences:\n\n';
  md += table(['conns', 'msgs/s ratio', 'msgs per CPU-s ratio', 'Δ CPU-µs / msg', 'Δ RTT p50 µs', 'Δ RTT p99 µs'], rows);
  return `${md}\n\n`;
}

// ── 4. Idle ─────────────────────────────────────────────────────────────────────────────────

/** "978 B (941–1,072) (heap 560 B)": RSS per connection, with the JS heap's part. */
function perConn(rss: Summary | null, heap: Summary | null): string {
  return `${fmtSummary(rss, 0, ' B')}${heap ? ` (heap ${fmtNum(heap.median, 0)} B)` : ''}`;
}

function idleSection(d: IdleResult): string {
  let md = `## 4. Idle: ${fmtNum(d.connections, 0)} idle connections + one 1 s interval timer, ${d.windowS} s window\n\n`;
  md += unavailableNote(d.servers);
  const rows: string[][] = [];
  for (const s of d.servers) {
    const runs = d.runs.filter((r) => r.impl === s.id && r.ok);
    if (!s.available) {
      rows.push([s.label, 'not available yet', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    if (runs.length === 0) {
      rows.push([s.label, `failed: ${(d.runs.find((r) => r.impl === s.id)?.error ?? '').slice(0, 160)}`, '', '', '', '', '', '', '', '', '']);
      continue;
    }
    const sm = (f: (r: IdleRun) => number | null | undefined) => summarize(runs.map(f).filter((x): x is number => typeof x === 'number'));
    const calls = runs
      .filter((r) => !!r.epollCalls)
      .map((r) => `${Object.entries(r.epollCalls!).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} in ${fmtNum(r.straceWindowS ?? Number.NaN, 1)} s`);
    rows.push([
      s.label,
      fmtNum(sm((r) => r.held)?.median ?? Number.NaN, 0),
      fmtSummary(sm((r) => r.connectS), 2, ' s'),
      fmtSummary(sm((r) => (r.cpuUsPerS ?? 0) / 1000), 2, ' ms/s'),
      fmtSummary(sm((r) => r.epollPerS), 1),
      calls[0] ?? (runs[0]?.straceNote ?? '–'),
      fmtSummary(sm((r) => r.ctxSwitchesPerS), 1),
      fmtSummary(sm((r) => r.iterationsPerS), 1),
      `${fmtBytes(sm((r) => r.rssBeforeBytes)?.median ?? Number.NaN)} → ${fmtBytes(sm((r) => r.rssAfterBytes)?.median ?? Number.NaN)} → ${fmtBytes(sm((r) => r.rssIdleBytes)?.median ?? Number.NaN)}`,
      perConn(sm((r) => r.rssPerConnBytes), sm((r) => r.heapPerConnBytes)),
      perConn(sm((r) => r.rssIdlePerConnBytes), sm((r) => r.heapIdlePerConnBytes)),
    ]);
  }
  md += table(
    [
      'server',
      'held',
      'connect time (paced, 20k/s)',
      'server CPU',
      'epoll waits / s (strace)',
      'epoll calls traced (1st round)',
      'main-thread sleeps / s',
      'loop iterations / s',
      'RSS before → accepted → window end',
      'RSS per connection, just accepted',
      'RSS per connection, window end',
    ],
    rows,
  );
  md += '\n\n';
  const fails = failures(d.runs, (r) => `${r.impl} round ${r.round}`);
  if (fails.length > 0) md += `Failed runs:\n${fails.map((f) => `- ${f}`).join('\n')}\n\n`;
  return md;
}

// ── 5. Boundary ─────────────────────────────────────────────────────────────────────────────

function boundarySection(b: BoundaryResult): string {
  let md = '## 5. Boundary cost (in-process microbenchmarks)\n\n';
  const ok = b.runs.filter((r) => r.ok);
  if (ok.length === 0) {
    const err = b.runs.find((r) => !r.ok)?.error ?? 'no runs';
    return `${md}${err.startsWith('not available yet') ? `Not available yet${err.slice('not available yet'.length)}` : `Failed: ${err}`}\n\n`;
  }
  const ids: BoundaryRow[] = ok[0]!.rows!;
  const med = (id: string): Summary | null => summarize(ok.map((r) => r.rows!.find((x) => x.id === id)?.ns).filter((x): x is number => x !== undefined));
  const rows = ids.map((row) => {
    const s = med(row.id);
    const perEvent = row.events && s ? fmtNum(s.median / row.events, 1) : '';
    return [row.label, fmtSummary(s, 1), row.events === undefined ? '' : String(row.events), perEvent];
  });
  md += table(['operation', 'ns per call / iteration', 'events', 'ns per event'], rows);
  md += '\n\n';
  const v = (id: string): number => med(id)?.median ?? Number.NaN;
  const derived: string[] = [];
  derived.push(`native call overhead (\`sys.clock_gettime\` − JS call): **${fmtNum(v('clock_gettime') - v('js-call'), 1)} ns**`);
  derived.push(`epoll_wait, marginal cost per extra ready fd ((64 ready − 1 ready) / 63): **${fmtNum((v('epoll_wait-64') - v('epoll_wait-1')) / 63, 1)} ns** (kernel work; the call itself with nothing ready: ${fmtNum(v('epoll_wait-0'), 0)} ns)`);
  derived.push(`loop iteration with nothing ready (\`runNoWait()\`): **${fmtNum(v('runNoWait-0'), 0)} ns**; per delivered event at 1 per wake-up: **${fmtNum(v('runNoWait-1'), 0)} ns**, at 64 per wake-up: **${fmtNum(v('runNoWait-64') / 64, 1)} ns** (of which the loop's own dispatch, beyond epoll_wait: ${fmtNum((v('runNoWait-64') - v('epoll_pwait2-64')) / 64, 1)} ns)`);
  if (Number.isFinite(v('attached-1'))) {
    derived.push(`attached turn driven by libuv, 1 ready watcher: **${fmtNum(v('attached-1'), 0)} ns** vs ${fmtNum(v('runNoWait-1'), 0)} ns standalone (the node driver's extra cost per wake-up: ${fmtNum(v('attached-1') - v('runNoWait-1'), 0)} ns)`);
  }
  const statsPerIter = v('stats-counters') + v('clock_gettime');
  derived.push(
    `always-on stats: counters ${fmtNum(v('stats-counters'), 1)} ns + one extra clock read for the time-asleep figure ${fmtNum(v('clock_gettime'), 1)} ns = **${fmtNum(statsPerIter, 1)} ns per iteration** (${fmtNum((100 * statsPerIter) / v('runNoWait-1'), 1)}% of an iteration delivering 1 event); the lateness histogram adds **${fmtNum(v('stats-histogram'), 1)} ns per fired timer**`,
  );
  md += `${derived.map((d) => `- ${d}`).join('\n')}\n\n`;
  const fails = failures(b.runs, (r) => `round ${r.round}`);
  if (fails.length > 0) md += `Failed runs:\n${fails.map((f) => `- ${f}`).join('\n')}\n\n`;
  return md;
}

// ── the targets (issue #6), judged on this run ──────────────────────────────────────────────

/** The scoreboard: every target of the project, this run's median (min–max), and whether it is met. */
function targetsSection(r: Results): string {
  const rows: string[][] = [];
  // Ratios of ours to a baseline, per round then summarised, as in the suites' own tables.
  // The per-round values follow the summary: a margin is read against them.
  const ratioRow = (label: string, ours: (number | undefined)[], base: (number | undefined)[], goal: number): void => {
    const each = ratios(ours, base);
    const s = summarize(each);
    if (!s) rows.push([label, 'not measured in this run', '–']);
    else rows.push([label, `${fmtRatio(s)}${each.length > 1 ? ` — per round ${each.map((x) => x.toFixed(3)).join(', ')}` : ''}`, verdict(s.median >= goal, `by ${fmtMargin(goal - s.median)}`)]);
  };
  const h = r.http && !r.http.skipped ? r.http : undefined;
  if (h) {
    const R = roundsOf(h.runs);
    const v = (id: string) => perRound(h.runs, id, 100, R, (x) => x.reqPerCpuS);
    ratioRow('HTTP, 100 conns, standalone ≥ 0.95× C', v('ours-standalone'), v('c'), 0.95);
    ratioRow('HTTP, 100 conns, standalone ≥ 1.3× Node `net` minimal', v('ours-standalone'), v('node-net'), 1.3);
    ratioRow('HTTP, 100 conns, standalone ≥ 2.2× Node `http`', v('ours-standalone'), v('node-http'), 2.2);
    ratioRow('HTTP, 100 conns, node driver (inside Node\'s loop) ≥ 0.9× C', v('ours-node'), v('c'), 0.9);
    // libuv itself, in C (issue 26): Node's loop without Node.
    if (h.servers.some((s) => s.id === 'uv')) ratioRow('HTTP, 100 conns, standalone ≥ 0.95× libuv C', v('ours-standalone'), v('uv'), 0.95);
  }
  const e = r.echo;
  if (e) {
    const R = roundsOf(e.runs);
    const v = (id: string, conns: number) => perRound(e.runs, id, conns, R, (x) => x.msgsPerCpuS);
    for (const conns of [100, 1000]) {
      for (const [ours, name] of [
        ['ours-standalone', 'standalone'],
        ['ours-node', 'node driver'],
      ] as const) {
        ratioRow(`echo 64 B, ${fmtNum(conns, 0)} conns, ${name} ≥ 0.9× C`, v(ours, conns), v('c', conns), 0.9);
        ratioRow(`echo 64 B, ${fmtNum(conns, 0)} conns, ${name} ≥ 1.3× Node \`net\``, v(ours, conns), v('node-net', conns), 1.3);
      }
    }
    if (e.servers.some((s) => s.id === 'uv')) ratioRow('echo 64 B, 100 conns, standalone ≥ 0.95× libuv C', v('ours-standalone', 100), v('uv', 100), 0.95);
    // The same echo written as `socket.pipe(socket)`, against that program on Node's net (issue 27).
    if (e.servers.some((s) => s.id === 'node-net-pipe')) {
      ratioRow('echo 64 B, 100 conns, `socket.pipe(socket)`, standalone ≥ 1.3× Node `net` pipe', v('ours-pipe', 100), v('node-net-pipe', 100), 1.3);
      ratioRow('echo 64 B, 100 conns, `socket.pipe(socket)`, node driver ≥ 1.3× Node `net` pipe', v('ours-pipe-node', 100), v('node-net-pipe', 100), 1.3);
    }
  }
  if (r.timers) rows.push(...timerTargets(r.timers));
  if (r.idle) {
    for (const [impl, name] of [
      ['ours-standalone', 'standalone'],
      ['ours-node', 'node driver'],
    ] as const) {
      const runs = r.idle.runs.filter((x) => x.ok && x.impl === impl);
      if (runs.length === 0) continue;
      const sm = (f: (x: IdleRun) => number | null | undefined) => summarize(runs.map(f).filter((x): x is number => typeof x === 'number'));
      const it = sm((x) => x.iterationsPerS);
      if (it) {
        rows.push([`idle, ${name}: no wake-ups but the 1 s timer's`, `${fmtSummary(it, 1)} loop iterations per second`, verdict(it.max <= 1, `(${fmtNum(it.max, 1)} per second)`)]);
      }
      const rss = sm((x) => x.rssIdlePerConnBytes);
      if (rss) {
        // V8 gives back the young generation the accept burst grew some seconds into the idling
        // (docs/benchmarks.md, section 4): a shorter window measures the burst, not the idling.
        const short = r.idle.windowS < 10 ? ` (a ${r.idle.windowS} s window: V8 returns the accept burst's young generation 5–10 s into the idling, see section 4 of docs/benchmarks.md)` : '';
        rows.push([`idle, ${name}: ≤ 1 KB user memory per idle connection`, `${fmtSummary(rss, 0, ' B')} RSS per connection at the window's end${short}`, verdict(rss.median <= 1024, `by ${fmtNum(rss.median - 1024, 0)} B`)]);
      }
    }
  }
  if (rows.length === 0) return '';
  return (
    '## Targets\n\n' +
    "The project's goals, judged on this run's medians (requests or messages per server CPU-second for throughput; ratios per round, then median (min–max)). " +
    'One run is not the last word: the spread between runs on a shared machine is often larger than a margin here.\n\n' +
    table(['target', 'this run', 'verdict'], rows, ['l', 'l', 'l']) +
    '\n\n'
  );
}

// ── the whole report ────────────────────────────────────────────────────────────────────────

export function render(r: Results): { markdown: string; charts: Map<string, string> } {
  const m = r.meta;
  const chartList: string[] = [];
  let body = '';
  if (r.http) body += httpSection(r.http, chartList);
  if (r.echo) body += echoSection(r.echo, chartList);
  if (r.timers) body += timersSection(r.timers, chartList);
  if (r.idle) body += idleSection(r.idle);
  if (r.boundary) body += boundarySection(r.boundary);
  const head = table(
    ['', ''],
    [
      ['date', m.date],
      ['mode', `${m.mode} — ${m.settingsText}`],
      ['machine', m.machine],
      ['software', `Node ${m.node}; ${m.wrk}${m.libuv ? `; ${m.libuv} (the C programs on libuv)` : ''}`],
      ['placement', m.placement],
      ['load average (1 min) before → after', `${m.loadBefore} → ${m.loadAfter}`],
      ['commit', m.commit],
      [
        'total time',
        `${Math.floor(m.totalSeconds / 60)} min ${Math.round(m.totalSeconds % 60)} s${
          m.suiteSeconds ? ` (${Object.entries(m.suiteSeconds).map(([k, v]) => `${k} ${v} s`).join(', ')})` : ''
        }`,
      ],
    ],
    ['l', 'l'],
  );
  let md = `# Benchmark results\n\nGenerated by \`npm run bench\`; see docs/benchmarks.md for how to read this.\n\n${head}\n\n`;
  md += 'Cells are the median across rounds with (min–max) after it; ratios are computed per round (same round, same conditions) and then summarised the same way.\n\n';
  if (m.notes.length > 0) md += `${m.notes.map((n) => `> ${n}`).join('\n>\n')}\n\n`;
  md += targetsSection(r);
  md += body;
  const charts = new Map<string, string>();
  for (let i = 0; i + 1 < chartList.length; i += 2) charts.set(chartList[i]!, chartList[i + 1]!);
  return { markdown: md, charts };
}
