// The benchmark harness's own parts, checked without wrk and without a benchmark run: the C
// programs (built into a temporary directory, without a warning) do what bench/c/README.md says,
// every HTTP server of the comparison sends the same bytes, the C timer program draws the JS
// child's delays bit for bit and keeps its histogram edges, the statistics are right, and the
// report code makes a complete report of a saved run. The saved runs are fixtures of this test's
// own (test/fixtures/bench/, from real runs): no test reads a file that a command rewrites.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, EDGES_US } from '../dist/bench/lib/lateness.js';
import { render } from '../dist/bench/lib/report.js';
import { cpuSample, descendants, treeDelta, treeSample } from '../dist/bench/lib/proc.js';
import { checkHttpResponse } from '../dist/bench/lib/servers.js';
import { fmtRatio, quantileSorted, ratios, summarize } from '../dist/bench/lib/stats.js';
import { drawChainDelays, drawDelays, mulberry32 } from '../dist/bench/lib/timer-delays.js';
import { type WorkersResult, workersMarkdown } from '../dist/bench/suites/workers.js';
import { type ChildResult, checkFdsEachTest, exchange, packageDir, runChild } from './helpers';

checkFdsEachTest();

/** Whether libuv's header is here (Debian's libuv1-dev, which the bench's setup installs): build.sh skips the uv-* programs without it. */
const haveLibuv = spawnSync('sh', ['-c', `printf '#include <uv.h>\\n' | \${CC:-cc} -E -x c - >/dev/null 2>&1`]).status === 0;

let bin = '';
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'epoll-reactor-bench-c-'));
  const r = spawnSync('sh', [join(packageDir, 'bench/c/build.sh'), bin], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  // -Wall -Wextra and not one warning (bench/c/README.md promises it)
  expect(r.stderr).toBe('');
}, 120_000);
afterAll(() => {
  if (bin) rmSync(bin, { recursive: true, force: true });
});

const running: ChildProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
  }
});

/** Starts a program and resolves once it prints `listening on HOST:PORT`. */
function start(argv: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    const take = (d: Buffer): void => {
      out += d;
      const m = out.match(/listening on .*:(\d+)/);
      if (m) resolve({ proc, port: Number(m[1]) });
    };
    proc.stdout!.on('data', take);
    proc.stderr!.on('data', take);
    proc.on('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code}: ${out}`)));
  });
}

/** Runs a program to its end; its exit status and output. */
function run(argv: string[]): Promise<ChildResult> {
  return runChild(argv[0]!, argv.slice(1));
}

/** Sends SIGTERM and resolves with the exit status. */
function terminate(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.kill('SIGTERM');
  });
}

function threads(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Threads:\s+(\d+)/m);
  return Number(m![1]);
}

/** Saved runs, which only this test reads: the full run at 6abc8f5 (before the libuv rows), and the http, echo and timers suites of a --quick run with them. */
const FIXTURE = join(packageDir, 'test/fixtures/bench/full-6abc8f5.json');
const QUICK_FIXTURE = join(packageDir, 'test/fixtures/bench/quick-libuv.json');

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!';

describe('bench/c/http-server and uv-http-server', () => {
  const cases: [string, string[], number][] = [
    ['http-server', [], 1],
    ['http-server', ['--idle-thread'], 2],
    ['uv-http-server', [], 1],
  ];
  // Without libuv the uv-* cases are left out, and one test below says so.
  it.each(cases.filter(([name]) => haveLibuv || !name.startsWith('uv-')))('%s %j answers as the other servers do, pipelined too, and exits 0 on SIGTERM', async (name, extra, nthreads) => {
    const { proc, port } = await start([join(bin, name), '--port', '0', '--host', '127.0.0.1', ...extra]);
    // --idle-thread: the same server in a two-thread process (the point of the row); libuv's
    // server starts no thread (no thread-pool work, and its signal handling is a pipe)
    expect(threads(proc.pid!)).toBe(nthreads);
    expect(await checkHttpResponse('127.0.0.1', port)).toBe('identical');
    const three = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3);
    expect(await exchange(port, three, 300)).toBe(OK.repeat(3));
    expect(await exchange(port, 'GET / HTTP/1.0\r\n\r\n')).toBe(OK.replace('keep-alive', 'close'));
    expect(await exchange(port, 'HELLO\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await exchange(port, `GET / HTTP/1.1\r\nX: ${'x'.repeat(9000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    // a body is skipped, and the request after it answered
    expect(await exchange(port, 'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n', 300)).toBe(OK.repeat(2));
    expect(await terminate(proc)).toBe(0);
  });

  it.skipIf(haveLibuv)('uv-http-server, uv-echo-server and uv-timers: not built here (no libuv1-dev; `npm run bench` installs it)', () => {
    expect(haveLibuv).toBe(false);
  });

  it.runIf(haveLibuv)('the uv servers refuse bad usage with exit status 2', async () => {
    for (const name of ['uv-http-server', 'uv-echo-server']) {
      expect((await run([join(bin, name)])).code).toBe(2);
      expect((await run([join(bin, name), '--port', 'x'])).code).toBe(2);
      expect((await run([join(bin, name), '--port', '1', '--host', 'nowhere'])).code).toBe(2);
    }
  });
});

describe('every HTTP server of the comparison sends the same bytes', () => {
  const node = process.execPath;
  const cases: [string, () => string[]][] = [
    ['examples/http-server (standalone)', () => [node, join(packageDir, 'dist/examples/http-server.js'), '--port', '0']],
    ['examples/http-server (node driver)', () => [node, join(packageDir, 'dist/examples/http-server.js'), '--port', '0', '--driver', 'node']],
    ['bench/servers/node-net-http', () => [node, join(packageDir, 'dist/bench/servers/node-net-http.js'), '--port', '0']],
    ['bench/servers/node-http', () => [node, join(packageDir, 'dist/bench/servers/node-http.js'), '--port', '0']],
  ];
  it.each(cases)('%s', async (_name, argv) => {
    const { port } = await start(argv());
    expect(await checkHttpResponse('127.0.0.1', port)).toBe('identical');
    expect(await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2), 300)).toBe(OK.repeat(2));
  });
});

describe('bench/c/echo-server and echo-client', () => {
  const node = process.execPath;
  const cases: [string, () => string[]][] = [
    ['bench/c/echo-server', () => [join(bin, 'echo-server'), '--port', '0', '--host', '127.0.0.1']],
    ['bench/c/uv-echo-server', () => [join(bin, 'uv-echo-server'), '--port', '0', '--host', '127.0.0.1']],
    ['examples/echo-server', () => [node, join(packageDir, 'dist/examples/echo-server.js'), '--port', '0']],
    ['bench/servers/ours-pipe-echo', () => [node, join(packageDir, 'dist/bench/servers/ours-pipe-echo.js'), '--port', '0']],
  ];
  it.each(cases.filter(([name]) => haveLibuv || !name.includes('/uv-')))('echo-client --json measures %s: messages, latency, no errors', async (name, argv) => {
    const { proc, port } = await start(argv());
    expect(await exchange(port, 'ping', 300)).toBe('ping');
    const r = await run([join(bin, 'echo-client'), '--port', String(port), '--connections', '4', '--size', '64', '--duration', '1', '--warmup', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1); // "exactly one line"
    const o = JSON.parse(lines[0]!);
    expect(o).toMatchObject({ connections: 4, size: 64, errors: 0 });
    expect(o.messages).toBeGreaterThan(100);
    expect(o.msgs_per_s).toBeGreaterThan(0);
    expect(o.duration_s).toBeGreaterThan(0.9);
    expect(0 < o.p50_us && o.p50_us <= o.p90_us && o.p90_us <= o.p99_us && o.p99_us <= o.max_us).toBe(true);
    if (name.startsWith('bench/c/')) expect(await terminate(proc)).toBe(0);
  });

  it('echo-client reports a refused connect: exit status 1', async () => {
    const { proc, port } = await start([join(bin, 'echo-server'), '--port', '0', '--host', '127.0.0.1']);
    expect(await terminate(proc)).toBe(0); // the port is free again: nothing listens there
    const r = await run([join(bin, 'echo-client'), '--port', String(port), '--connections', '1', '--duration', '1', '--warmup', '0', '--json']);
    expect(r.code).toBe(1);
  });
});

describe('echo-client --ws: the frameworks suite\'s WebSocket load against framework-app --app ws', () => {
  const node = process.execPath;
  const app = join(packageDir, 'dist/bench/servers/framework-app.js');
  const serverFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

  it.each([
    ['Node http', ['--http', 'node']],
    ['ours, standalone', ['--http', 'ours', '--driver', 'standalone']],
    ['ours, node driver', ['--http', 'ours', '--driver', 'node']],
  ])('%s: every frame echoed (64 B, 300 B and 70,000 B payloads: the three length forms), no error, no fd left in the server', async (_name, extra) => {
    const { proc, port } = await start([node, app, '--app', 'ws', '--port', '0', ...extra]);
    const fdsBefore = serverFds(proc.pid!);
    for (const size of ['64', '300', '70000']) {
      const r = await run([join(bin, 'echo-client'), '--port', String(port), '--ws', '/', '--connections', '4', '--size', size, '--duration', '0.5', '--warmup', '0', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const o = JSON.parse(r.stdout.trim());
      expect(o, `size ${size}`).toMatchObject({ connections: 4, size: Number(size), errors: 0 });
      expect(o.messages).toBeGreaterThan(10);
      expect(0 < o.p50_us && o.p50_us <= o.max_us).toBe(true);
    }
    // The client closed its 12 connections: the server closes its ends too (ws sees the TCP
    // close without a close frame). Polled: the close is the server's own turn, not ours.
    for (let i = 0; i < 100 && serverFds(proc.pid!) !== fdsBefore; i++) await new Promise((r) => setTimeout(r, 50));
    expect(serverFds(proc.pid!)).toBe(fdsBefore);
  });

  it('a server that does not upgrade: the handshake is refused, counted, described, exit status 1', async () => {
    // The C echo server sends the request back: its first line is no 101 status line.
    const { proc, port } = await start([join(bin, 'echo-server'), '--port', '0', '--host', '127.0.0.1']);
    const r = await run([join(bin, 'echo-client'), '--port', String(port), '--ws', '/', '--connections', '2', '--duration', '0.3', '--warmup', '0', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ messages: 0, errors: 2 });
    expect(r.stderr).toContain('WebSocket handshake refused: "GET / HTTP/1.1"');
    expect(await terminate(proc)).toBe(0);
    // An HTTP server without an 'upgrade' listener answers the request as any other.
    const plain = await start([node, app, '--app', 'plain', '--http', 'ours', '--port', '0']);
    const r2 = await run([join(bin, 'echo-client'), '--port', String(plain.port), '--ws', '/', '--connections', '1', '--duration', '0.3', '--warmup', '0', '--json']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('WebSocket handshake refused: "HTTP/1.1 200 OK"');
  });

  it('--ws takes an absolute path and not --hold: bad usage, exit status 2', async () => {
    expect((await run([join(bin, 'echo-client'), '--port', '1', '--ws', 'x'])).code).toBe(2);
    expect((await run([join(bin, 'echo-client'), '--port', '1', '--ws', '/', '--hold'])).code).toBe(2);
  });
});

describe('the pipe rows of the echo suite: socket.pipe(socket) on our net and on Node\'s', () => {
  const node = process.execPath;
  const cases: [string, string[]][] = [
    ['ours-pipe-echo.js', ['--driver', 'standalone']],
    ['ours-pipe-echo.js', ['--driver', 'node']],
    ['node-net-pipe-echo.js', []],
  ];

  /** Sends `data` and ends; resolves with everything read until the server ends its side too. */
  function roundTrip(port: number, data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const c = nodeNet.connect(port, '127.0.0.1', () => c.end(data));
      const chunks: Buffer[] = [];
      // Read nothing for a while: the server's writes fill the socket buffers and the pipe
      // must pause (backpressure), then resume on 'drain' once we read.
      c.pause();
      setTimeout(() => c.resume(), 200);
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('end', () => resolve(Buffer.concat(chunks)));
      c.on('error', reject);
    });
  }

  it.each(cases)('%s %j echoes 4 MiB sent to a client that reads late, every byte in order, then ends; exits 0 on SIGTERM', async (file, extra) => {
    const { proc, port } = await start([node, join(packageDir, 'dist/bench/servers', file), '--port', '0', ...extra]);
    const data = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    const back = await roundTrip(port, data);
    expect(back.length).toBe(data.length);
    expect(back.equals(data)).toBe(true);
    expect(await terminate(proc)).toBe(0);
  });

  it('refuses a bad --driver with exit status 2', async () => {
    expect((await run([node, join(packageDir, 'dist/bench/servers/ours-pipe-echo.js'), '--port', '0', '--driver', 'uv'])).code).toBe(2);
  });
});

describe('the workers suite (issue 24): Node cluster server, process trees, the report', () => {
  const node = process.execPath;
  const clusterServer = join(packageDir, 'dist/bench/servers/node-http-cluster.js');
  /** Running (a zombie waiting for its new parent to reap it is not). */
  const alive = (pid: number): boolean => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
    } catch {
      return false;
    }
  };

  it('node-http-cluster --workers 2: listening once both workers listen, the same bytes as the others, its CPU counted over primary and workers; SIGTERM leaves no worker', async () => {
    const { proc, port } = await start([node, clusterServer, '--port', '0', '--workers', '2']);
    const workers = descendants(proc.pid!);
    expect(workers).toHaveLength(2);
    for (const w of workers) expect(readFileSync(`/proc/${w}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]).toBe(String(proc.pid));
    // round-robin: the primary accepts, each worker answers; several connections reach both
    for (let i = 0; i < 4; i++) expect(await checkHttpResponse('127.0.0.1', port)).toBe('identical');
    const pids = [proc.pid!, ...workers];
    const before = treeSample(pids);
    expect([...before.keys()].sort()).toEqual([...pids].sort());
    await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50), 300);
    const d = treeDelta(before, treeSample(pids))!;
    expect(d.processes).toBe(3);
    expect(d.cpuS).toBeGreaterThan(0);
    expect(await terminate(proc)).toBe(0);
    for (const w of workers) {
      for (let i = 0; i < 50 && alive(w); i++) await new Promise((r) => setTimeout(r, 20));
      expect(alive(w)).toBe(false);
    }
    // The workers shared the primary's stdout and stderr: our ends close once the last worker's have.
    await Promise.all([proc.stdout!, proc.stderr!].map((st) => (st.closed ? null : new Promise((r) => st.once('close', r)))));
  });

  it('node-http-cluster refuses a bad --workers with exit status 2', async () => {
    for (const n of ['0', '-1', 'x', '65']) expect((await run([node, clusterServer, '--port', '0', '--workers', n])).code).toBe(2);
  });

  it('treeDelta sums the CPU of the processes sampled both times, and says how many', () => {
    const s = (ticksS: number, schedS: number | null, at: number) => ({ ticksS, schedS, at });
    const a = new Map([
      [1, s(1, 1, 10)],
      [2, s(2, 2, 10)],
      [3, s(3, null, 10)],
    ]);
    const b = new Map([
      [1, s(1.5, 1.5, 11)],
      [3, s(3.25, null, 11)], // no schedstat: clock ticks
      [4, s(9, 9, 11)], // not sampled before: not counted
    ]);
    expect(treeDelta(a, b)).toEqual({ cpuS: 0.75, wallS: 1, processes: 2 });
    expect(treeDelta(a, new Map())).toBeNull();
    expect(cpuSample(process.pid)).not.toBeNull();
  });

  const saved = (): WorkersResult => JSON.parse(readFileSync(join(packageDir, 'test/fixtures/bench/quick-workers.json'), 'utf8')).workers;
  const row = (md: string, start: string): string => md.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';

  it('workersMarkdown: every server, raw and per-CPU figures, and the ratios computed per round', () => {
    const r = saved();
    const md = workersMarkdown(r);
    for (const s of r.servers) expect(row(md, `${s.label} |`), s.id).toMatch(/^\| .+ \| [\d,]+ \(/);
    const per = (id: string, round: number) => r.runs.find((x) => x.ok && x.server === id && x.round === round)!;
    const rounds = Math.max(...r.runs.map((x) => x.round));
    const each = Array.from({ length: rounds }, (_, i) => per('ours-w2', i + 1).reqPerCpuS! / per('ours-1', i + 1).reqPerCpuS!).sort((a, b) => a - b);
    expect(row(md, 'ours: 2 worker threads ÷ 1 loop')).toContain(`| ${each[rounds >> 1]!.toFixed(2)}× (${each[0]!.toFixed(2)}–${each.at(-1)!.toFixed(2)}) |`);
    expect(row(md, 'Node: cluster of 2 ÷ 1 process')).not.toBe('');
    // a server that failed says why, and its ratios are left empty
    r.runs = r.runs.filter((x) => x.server !== 'node-cluster');
    r.runs.push({ server: 'node-cluster', round: 1, ok: false, error: 'server exited during the run' });
    const failed = workersMarkdown(r);
    expect(row(failed, 'Node http · cluster, 2 workers')).toContain('server exited during the run');
    expect(row(failed, 'ours 2 worker threads ÷ Node cluster of 2')).toBe('| ours 2 worker threads ÷ Node cluster of 2 | – | – |');
    expect(failed).toContain('- node-cluster round 1: server exited during the run');
  });

  it('--render re-renders a saved workers run into the report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'epoll-reactor-bench-out-'));
    try {
      const r = await run([process.execPath, join(packageDir, 'dist/bench/run.js'), '--render', join(packageDir, 'test/fixtures/bench/quick-workers.json'), '--out', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(dir, 'latest.md'), 'utf8')).toContain(workersMarkdown(saved()).trimEnd());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench/c/timers and uv-timers', () => {
  const programs = haveLibuv ? (['timers', 'uv-timers'] as const) : (['timers'] as const);
  const implOf = (p: string): string => (p === 'timers' ? 'c' : 'uv');

  it.each(programs)('%s draws the same delays as the JS timer child, bit for bit', async (program) => {
    for (const [seed, count, min, max, lead] of [
      [1, 2000, 1, 100, 0],
      [7, 500, 0.25, 3.5, 20],
      [123456789, 300, 5, 5, 1],
    ] as const) {
      const r = await run([join(bin, program), '--print-delays', '--count', `${count}`, '--min', `${min}`, '--max', `${max}`, '--lead', `${lead}`, '--seed', `${seed}`]);
      expect(r.code, r.stderr).toBe(0);
      const c = r.stdout.trim().split('\n').map(Number); // %.17g: every double reads back exactly
      const js = drawDelays(mulberry32(seed), { count, minMs: min, maxMs: max, leadMs: lead });
      expect(c).toEqual([...js]);
    }
    // the chained workload's whole milliseconds
    const r = await run([join(bin, program), '--print-delays', '--chains', '10', '--count', '5000', '--min', '1', '--max', '10', '--seed', '1']);
    expect(r.code, r.stderr).toBe(0);
    const c = r.stdout.trim().split('\n').map(Number);
    expect(c).toEqual([...drawChainDelays(mulberry32(1), { count: 5000, minMs: 1, maxMs: 10, leadMs: 0 })]);
    expect(new Set(c)).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  });

  it('keep the histogram edges of bench/lib/lateness.ts', () => {
    const src = readFileSync(join(packageDir, 'bench/c/timer-common.c'), 'utf8');
    const list = src.match(/static const double EDGES_US\[\] = \{([^}]*)\}/)![1]!;
    const edges = list
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => (s === '-INFINITY' ? -Infinity : s === 'INFINITY' ? Infinity : Number(s)));
    expect(edges).toEqual([...EDGES_US]);
  });

  it.each(programs)('%s fires every timer and reports the histogram the report reads (timerfd: none early)', async (program) => {
    const r = await run([join(bin, program), '--impl', implOf(program), '--count', '400', '--min', '1', '--max', '20', '--lead', '2', '--warmup', '200']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // libuv's timers are whole milliseconds: reported against the requested and the truncated delay, as Node's
    expect(lines.map((l) => l.basis ?? l.type)).toEqual(program === 'timers' ? ['requested', 'meta'] : ['requested', 'effective', 'meta']);
    const result = lines[0];
    expect(result).toMatchObject({ impl: implOf(program), basis: 'requested', count: 400, fired: 400 });
    if (program === 'timers') {
      expect(result.early).toBe(0);
      expect(result.minUs).toBeGreaterThanOrEqual(0);
    }
    expect(result.hist).toHaveLength(BUCKETS);
    expect(result.hist.reduce((a: number, b: number) => a + b, 0)).toBe(400);
    expect(result.p50Us <= result.p99Us && result.p99Us <= result.maxUs).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'meta', impl: implOf(program), count: 400, chains: 0 });
  });

  it.each(programs)('%s runs the chained workload: every firing recorded, chains re-armed from their callbacks', async (program) => {
    const r = await run([join(bin, program), '--impl', implOf(program), '--chains', '10', '--count', '200', '--min', '1', '--max', '3', '--warmup', '0']);
    expect(r.code, r.stderr).toBe(0);
    const [result, ...rest] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(result).toMatchObject({ basis: 'requested', count: 200, fired: 200 });
    if (program === 'timers') expect(result.early).toBe(0);
    // only the 10 chains' first timers are scheduled up front: the other 190 were re-armed
    expect(rest.at(-1)).toMatchObject({ type: 'meta', chains: 10, count: 200 });
  });

  it.each(programs)('%s refuses bad usage with exit status 2', async (program) => {
    const impl = implOf(program);
    expect((await run([join(bin, program), '--impl', 'node'])).code).toBe(2);
    expect((await run([join(bin, program), '--impl', impl, '--count', 'many'])).code).toBe(2);
    expect((await run([join(bin, program), '--impl', impl, '--min', '5', '--max', '1'])).code).toBe(2);
    // chains: whole milliseconds, no lead, no more chains than firings
    expect((await run([join(bin, program), '--impl', impl, '--chains', '10', '--min', '1.5', '--max', '10'])).code).toBe(2);
    expect((await run([join(bin, program), '--impl', impl, '--chains', '10', '--lead', '5', '--max', '10'])).code).toBe(2);
    expect((await run([join(bin, program), '--impl', impl, '--chains', '10', '--count', '5'])).code).toBe(2);
  });
});

describe('bench/children/timers: the chained workload', () => {
  const child = join(packageDir, 'dist/bench/children/timers.js');
  it.each(['ours-standalone', 'ours-node', 'node'])('%s: every firing recorded, ours never early', async (impl) => {
    const r = await run([process.execPath, child, '--impl', impl, '--chains', '10', '--count', '200', '--min', '1', '--max', '3', '--warmup', '0', '--passes', '2', '--warm-count', '50']);
    expect(r.code, r.stderr).toBe(0);
    const [result, ...rest] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(result).toMatchObject({ impl, basis: 'requested', count: 200, fired: 200 });
    if (impl !== 'node') expect(result.early).toBe(0);
    expect(rest.at(-1)).toMatchObject({ type: 'meta', chains: 10, passes: 2, record: 1 });
  });

  it('refuses chains with fractional delays or a lead, with exit status 2', async () => {
    expect((await run([process.execPath, child, '--impl', 'node', '--chains', '10', '--count', '100', '--min', '0.5', '--max', '3'])).code).toBe(2);
    expect((await run([process.execPath, child, '--impl', 'node', '--chains', '10', '--count', '100', '--max', '3', '--lead', '2'])).code).toBe(2);
    expect((await run([process.execPath, child, '--impl', 'node', '--chains', '300', '--count', '100'])).code).toBe(2);
  });
});

describe('bench/lib: statistics and the lateness histogram', () => {
  it('summarize: median of the rounds (the mean of the middle two for an even count), min, max; non-finite values dropped', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(summarize([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(summarize([5, Number.NaN, Infinity])).toEqual({ median: 5, min: 5, max: 5, n: 1 });
    expect(summarize([])).toBeNull();
  });

  it('quantileSorted is nearest-rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(quantileSorted(v, 0.5)).toBe(50);
    expect(quantileSorted(v, 0.99)).toBe(99);
    expect(quantileSorted(v, 0.991)).toBe(100);
    expect(quantileSorted(v, 0)).toBe(1);
    expect(quantileSorted(v, 1)).toBe(100);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });

  it('ratios pair the rounds, skipping rounds where either side is missing or zero', () => {
    expect(ratios([2, 3, undefined, 8], [1, 0, 4, 4])).toEqual([2, 2]);
    expect(fmtRatio(summarize(ratios([0.9, 0.95, 1], [1, 1, 1])))).toBe('0.95× (0.90–1.00)');
    expect(fmtRatio(summarize([1.234]))).toBe('1.23×');
  });

  it('bucketOf: [edge, next edge), early firings in buckets of their own', () => {
    expect(bucketOf(-1e9)).toBe(0);
    expect(bucketOf(-0.001)).toBe(EDGES_US.indexOf(-10)); // early by a nanosecond: an early bucket
    expect(bucketOf(0)).toBe(EDGES_US.indexOf(0));
    expect(bucketOf(9.999)).toBe(EDGES_US.indexOf(0));
    expect(bucketOf(10)).toBe(EDGES_US.indexOf(10));
    expect(bucketOf(1e9)).toBe(BUCKETS - 1);
  });
});

describe('bench/lib/report: the targets', () => {
  const saved = (): Parameters<typeof render>[0] => JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const row = (markdown: string, target: string): string => markdown.split('\n').find((l) => l.startsWith(`| ${target}`)) ?? '';

  it('judges every target from the runs: a run made to miss one says so, with the margin', () => {
    const r = saved();
    for (const run of r.http!.runs) if (run.server === 'ours-standalone' && run.conns === 100) run.reqPerCpuS = run.reqPerCpuS! / 2;
    const lateness = r.timers!.runs.find((x) => x.ok && x.variant === 'sparse' && x.impl === 'ours-standalone')!.results![0]!;
    lateness.early = 3;
    for (const run of r.idle!.runs) if (run.impl === 'ours-node') run.rssIdlePerConnBytes = 2048;
    const md = render(r).markdown;
    expect(row(md, 'HTTP, 100 conns, standalone ≥ 0.95× C')).toMatch(/\| 0\.4\d× .*\| \*\*missed\*\* by 0\.4\d\d \|$/);
    expect(row(md, 'HTTP, 100 conns, standalone ≥ 2.2× Node `http`')).toMatch(/\*\*missed\*\*/);
    expect(row(md, 'timers: zero early firings')).toMatch(/^\| timers: zero early firings \| 3 of [\d,]+ timers fired early .*\| \*\*missed\*\* \(3 early\) \|$/);
    expect(row(md, 'idle, node driver: ≤ 1 KB')).toMatch(/2,048 B .*\| \*\*missed\*\* by 1,024 B \|$/);
    expect(row(md, 'idle, standalone: ≤ 1 KB')).toMatch(/\| met \|$/);
    expect(row(md, 'idle, standalone: ≤ 1 KB')).not.toMatch(/window:/);
    r.idle!.windowS = 2; // --quick: the memory is measured before V8 gives the burst's back
    expect(row(render(r).markdown, 'idle, standalone: ≤ 1 KB')).toMatch(/a 2 s window: V8 returns/);
  });

  it('reports the wake-up latency our loops learnt, as the median over the idle set’s rounds', () => {
    const r = saved();
    const runs = r.timers!.runs.filter((x) => x.ok && x.variant === 'idle' && x.impl === 'ours-node');
    runs.forEach((x, i) => {
      x.meta = { ...x.meta, loopStats: { ...(x.meta?.loopStats as object), wakeLatencyUs: [39, 41, 52][i % 3] } };
    });
    const line = render(r).markdown.split('\n').find((l) => l.startsWith('The wake-up latency our loops learnt'));
    expect(line).toMatch(/ ours-node 41\.0 µs[,.]/);
    // A run from before the loop learnt it (no such field) has no such line.
    for (const x of r.timers!.runs) delete (x.meta?.loopStats as { wakeLatencyUs?: number } | undefined)?.wakeLatencyUs;
    expect(render(r).markdown).not.toMatch(/wake-up latency our loops learnt/);
  });

  it('a suite that did not run has no rows; a baseline that did not run says so', () => {
    const r = saved();
    delete r.timers;
    delete r.idle;
    r.http!.runs = r.http!.runs.filter((x) => x.server !== 'node-http');
    const md = render(r).markdown;
    expect(md).not.toMatch(/\| timers:/);
    expect(md).not.toMatch(/\| idle,/);
    expect(row(md, 'HTTP, 100 conns, standalone ≥ 2.2× Node `http`')).toBe('| HTTP, 100 conns, standalone ≥ 2.2× Node `http` | not measured in this run | – |');
  });
});

describe('bench/lib/report: a saved run', () => {
  it.each([FIXTURE, QUICK_FIXTURE])('renders every suite of %s, and every chart the report links is drawn and is an SVG', (file) => {
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    const { markdown, charts } = render(saved);
    const titles: [string, string][] = [
      ['meta', '## Targets'],
      ['http', '## 1. HTTP'],
      ['echo', '## 2. TCP echo'],
      ['timers', '## 3. Timer lateness'],
      ['idle', '## 4. Idle'],
      ['boundary', '## 5. Boundary'],
    ];
    for (const [suite, title] of titles) if (saved[suite]) expect(markdown).toContain(title);
    const linked = [...markdown.matchAll(/!\[[^\]]*\]\(([\w.-]+\.svg)\)/g)].map((m) => m[1]);
    expect(linked.length).toBeGreaterThan(0);
    expect(new Set(linked)).toEqual(new Set(charts.keys()));
    for (const [name, svg] of charts) expect(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'), name).toBe(true);
  });
});

describe('bench/lib/report: libuv in C and the chained timers (issue 26)', () => {
  const quick = (): Parameters<typeof render>[0] => JSON.parse(readFileSync(QUICK_FIXTURE, 'utf8'));
  const row = (markdown: string, start: string): string => markdown.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';
  const perRoundRatios = (runs: { server: string; conns: number; round: number; ok: boolean }[], field: string, ours: string, base: string): number[] => {
    const get = (id: string, round: number) => (runs.find((x) => x.ok && x.server === id && x.conns === 100 && x.round === round) as Record<string, unknown> | undefined)?.[field] as number;
    const rounds = Math.max(...runs.map((x) => x.round));
    return Array.from({ length: rounds }, (_, i) => get(ours, i + 1) / get(base, i + 1));
  };

  it('judges ours ÷ libuv C per server CPU-second at 100 connections, HTTP and echo, with the per-round ratios', () => {
    const r = quick();
    const http = perRoundRatios(r.http!.runs, 'reqPerCpuS', 'ours-standalone', 'uv');
    const echo = perRoundRatios(r.echo!.runs, 'msgsPerCpuS', 'ours-standalone', 'uv');
    const md = render(r).markdown;
    expect(row(md, 'HTTP, 100 conns, standalone ≥ 0.95× libuv C')).toContain(`per round ${http.map((x) => x.toFixed(3)).join(', ')}`);
    expect(row(md, 'echo 64 B, 100 conns, standalone ≥ 0.95× libuv C')).toContain(`per round ${echo.map((x) => x.toFixed(3)).join(', ')}`);
    // the "ours against the baselines" tables have libuv C columns
    expect(md).toMatch(/\| per CPU vs libuv C \|/);
    // a run made to miss it says so
    for (const run of r.http!.runs) if (run.server === 'uv') run.reqPerCpuS = run.reqPerCpuS! * 3;
    expect(row(render(r).markdown, 'HTTP, 100 conns, standalone ≥ 0.95× libuv C')).toMatch(/\| \*\*missed\*\* by 0\.\d{3} \|$/);
    // a run from before the libuv rows has no such target
    expect(render(JSON.parse(readFileSync(FIXTURE, 'utf8'))).markdown).not.toMatch(/libuv C/);
  });

  it('shows the chained workload pinned and unpinned, every program, and judges ours against plain C in the same round', () => {
    const r = quick();
    const md = render(r).markdown;
    expect(md).toContain('### Chained timers');
    for (const v of ['chains-pinned', 'chains-unpinned']) {
      for (const label of ['ours · standalone', 'ours · node driver', 'Node `setTimeout`', 'libuv C', 'C `timerfd`']) expect(row(md, `${v} | ${label}`), `${v} ${label}`).not.toBe('');
    }
    const target = 'timers, chained (issue 26)';
    const p99 = (variant: string, impl: string) => r.timers!.runs.find((x) => x.ok && x.variant === variant && x.impl === impl)!.results![0]!;
    // Ours made twice plain C's tail (then half of it), in every chained run: missed (then met).
    for (const factor of [2, 0.5]) {
      for (const v of ['chains-pinned', 'chains-unpinned']) {
        for (const impl of ['ours-standalone', 'ours-node']) p99(v, impl).p99Us = p99(v, 'c').p99Us * factor;
      }
      const verdict = row(render(r).markdown, target);
      if (factor > 1) expect(verdict).toMatch(/\*\*missed\*\*: pinned standalone \(2\.00×\), pinned node driver \(2\.00×\), unpinned standalone \(2\.00×\), unpinned node driver \(2\.00×\) \|$/);
      else expect(verdict).toMatch(/\| met \|$/);
    }
    // an early firing of ours in a chained run counts against "zero early firings"
    p99('chains-pinned', 'ours-node').early = 2;
    expect(row(render(r).markdown, 'timers: zero early firings')).toMatch(/\*\*missed\*\* \(2 early\)/);
  });
});

describe('bench/lib/report: the pipe rows of the echo suite (issue 27)', () => {
  /** A --quick echo run with the pipe rows (5 rounds). */
  const PIPE_FIXTURE = join(packageDir, 'test/fixtures/bench/quick-echo-pipe.json');
  const saved = (): Parameters<typeof render>[0] => JSON.parse(readFileSync(PIPE_FIXTURE, 'utf8'));
  const row = (markdown: string, start: string): string => markdown.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';
  const perRound = (r: Parameters<typeof render>[0], ours: string): number[] => {
    const runs = r.echo!.runs;
    const get = (id: string, round: number) => runs.find((x) => x.ok && x.server === id && x.conns === 100 && x.round === round)!.msgsPerCpuS!;
    const rounds = Math.max(...runs.map((x) => x.round));
    return Array.from({ length: rounds }, (_, i) => get(ours, i + 1) / get('node-net-pipe', i + 1));
  };
  const target = (driver: string): string => `echo 64 B, 100 conns, \`socket.pipe(socket)\`, ${driver} ≥ 1.3× Node \`net\` pipe`;

  it('judges ours ÷ Node net, both written as socket.pipe(socket), per server CPU-second at 100 connections, with the per-round ratios', () => {
    const r = saved();
    const md = render(r).markdown;
    for (const [id, driver] of [
      ['ours-pipe', 'standalone'],
      ['ours-pipe-node', 'node driver'],
    ]) {
      const each = perRound(r, id!);
      const median = [...each].sort((a, b) => a - b)[each.length >> 1]!;
      expect(row(md, target(driver!))).toContain(`per round ${each.map((x) => x.toFixed(3)).join(', ')}`);
      expect(row(md, target(driver!))).toMatch(median >= 1.3 ? /\| met \|$/ : /\*\*missed\*\*/);
    }
    // a run made to miss it says so, with the margin
    for (const run of r.echo!.runs) if (run.server === 'node-net-pipe') run.msgsPerCpuS = run.msgsPerCpuS! * 10;
    expect(row(render(r).markdown, target('standalone'))).toMatch(/\| \*\*missed\*\* by \d\.\d{3} \|$/);
  });

  it('shows the pipe servers at 100 connections only, in a section of their own, and leaves them out of the charts', () => {
    const { markdown, charts } = render(saved());
    // the suite's table: server | conns | …
    const tableRows = markdown.split('\n').filter((l) => /^\| (ours · pipe|Node net · pipe)[^|]* \| \d+ \|/.test(l));
    expect(tableRows.map((l) => l.split(' | ')[1])).toEqual(['100', '100', '100']);
    const section = markdown.split('### `socket.pipe(socket)` (100 connections)')[1]!.split('\n\n![')[0]!;
    expect(row(section, 'ours · pipe · standalone')).toMatch(/^\| ours · pipe · standalone \| \d\.\d\d× \(/);
    expect(row(section, 'ours · pipe · node driver')).toMatch(/^\| ours · pipe · node driver \| \d\.\d\d× \(/);
    for (const svg of charts.values()) expect(svg).not.toContain('pipe');
  });

  it('a run from before the pipe rows has neither the section nor the targets', () => {
    const md = render(JSON.parse(readFileSync(QUICK_FIXTURE, 'utf8'))).markdown;
    expect(md).not.toContain('socket.pipe(socket)');
  });
});

describe('bench/run: where the commands write', () => {
  const runner = join(packageDir, 'dist/bench/run.js');

  it('--help names the git-ignored default and the flag that writes the tracked report', async () => {
    const r = await run([process.execPath, runner, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--save .*bench\/results\//);
    expect(r.stdout).toMatch(/bench\/out\/ \(git-ignored\)/);
    // and git does ignore it (where this is a git checkout)
    const git = spawnSync('git', ['check-ignore', '-q', 'bench/out/latest.md', 'bench/out/raw/x.txt'], { cwd: packageDir });
    if (git.error === undefined && git.status !== 128) expect(git.status).toBe(0);
  });

  it('--render --out DIR writes the report there, from a saved run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'epoll-reactor-bench-out-'));
    try {
      const r = await run([process.execPath, runner, '--render', FIXTURE, '--out', dir]);
      expect(r.code, r.stderr).toBe(0);
      const { markdown } = render(JSON.parse(readFileSync(FIXTURE, 'utf8')));
      expect(readFileSync(join(dir, 'latest.md'), 'utf8')).toBe(markdown);
      expect(JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')).meta).toEqual(JSON.parse(readFileSync(FIXTURE, 'utf8')).meta);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --save together with --out, and unknown options, with status 2', async () => {
    expect((await run([process.execPath, runner, '--save', '--out', '/tmp/x', '--render', FIXTURE])).code).toBe(2);
    expect((await run([process.execPath, runner, '--bogus'])).code).toBe(2);
  });
});
