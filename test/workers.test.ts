// lib/workers: a pool of threads or processes, each with its own loop and its own SO_REUSEPORT
// listener on one port; restarts with a backoff; and --workers N on the example servers.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fdSnapshot, packageDir, pkg, runChild } from './helpers';
import { HttpClient, OK_CLOSE, sleep, straggler } from './load-clients';

const { workers } = pkg;
const ID_SERVER = join(packageDir, 'test/fixtures/workers/id-server.cjs');

/** Connects, sends `text`, resolves with all the server sends before it closes. */
function ask(port: number, text = 'hi'): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = nodeNet.connect(port, '127.0.0.1', () => c.write(text));
    c.on('data', (d) => {
      got += d;
    });
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
}

const pools: InstanceType<typeof workers.Pool>[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(pools.splice(0).map((p) => p.stop()));
});

function startPool(options: Parameters<typeof workers.start>[1]) {
  const pool = workers.start(ID_SERVER, options);
  pools.push(pool);
  return pool;
}

const portOf = (a: unknown): number => (a as { port: number }).port;
/** The fixture's argv: port 0 for the first worker, then the port it got. */
const samePort = (_id: number, first: unknown): string[] => [String(first === null ? 0 : portOf(first))];

describe('workers.start: bad arguments', () => {
  it.each([
    [{ count: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ count: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ count: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ count: 1025 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ count: 'x' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ count: 2, mode: 'fiber' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ count: 2, drainTimeout: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('%o throws %s %s and starts nothing', (options, type, code) => {
    const fds = fdSnapshot();
    expect(() => workers.start(ID_SERVER, options as never)).toThrow(type);
    try {
      workers.start(ID_SERVER, options as never);
    } catch (e) {
      expect((e as { code: string }).code).toBe(code);
    }
    fds.check();
  });

  it('a file that is not a string, or empty, is a TypeError', () => {
    expect(() => workers.start('' as never, { count: 1 })).toThrow(TypeError);
    expect(() => workers.start(7 as never, { count: 1 })).toThrow(/"file" argument/);
  });

  it('outside a pool a program is no worker, and serve()/postStats() do nothing', () => {
    expect(workers.isWorker).toBe(false);
    expect(workers.id).toBe(0);
    expect(workers.mode).toBe(null);
  });
});

describe.each(['thread', 'process'] as const)('a pool, mode %s', (mode) => {
  it('two workers share one port: the first picks it, the kernel spreads connections over both', async () => {
    const pool = startPool({ count: 2, mode, argv: samePort });
    await pool.ready;
    const port = portOf(pool.address);
    expect(pool.workers.map((w) => [w.id, w.state, portOf(w.address)])).toEqual([
      [1, 'ready', port],
      [2, 'ready', port],
    ]);
    const answers = new Set<string>();
    for (let i = 0; i < 40 && answers.size < 2; i++) answers.add(await ask(port));
    expect([...answers].sort()).toEqual([`worker 1 ${mode}\n`, `worker 2 ${mode}\n`]);
    await pool.stop();
    expect(pool.workers).toEqual([]);
    await expect(ask(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a worker that dies is restarted, with the same id and the next generation', async () => {
    const pool = startPool({ count: 1, mode, argv: samePort, quickFailure: 0 });
    await pool.ready;
    const port = portOf(pool.address);
    const restarted = new Promise<[unknown, number, unknown]>((r) => pool.once('restart', (...a: [unknown, number, unknown]) => r(a)));
    const ready = new Promise<{ id: number; generation: number }>((r) => pool.once('ready', r));
    void ask(port, 'crash').catch(() => {});
    const [info, delay, exit] = await restarted;
    expect(info).toMatchObject({ id: 1, generation: 1, state: 'exited' });
    expect(delay).toBe(0); // it lived longer than quickFailure (0 ms): no backoff
    expect(exit).toEqual({ code: 3, signal: null, reason: null });
    expect(await ready).toMatchObject({ id: 1, generation: 2 });
    expect(await ask(port)).toBe(`worker 1 ${mode}\n`);
  });

  it('a worker that throws at every restart: backoff, then the pool gives up with an error and stops', async () => {
    const mark = join(tmpdir(), `workers-mark-${process.pid}-${mode}`);
    process.env.WORKER_FIXTURE_MARK = mark;
    try {
      const pool = startPool({ count: 1, mode, argv: samePort, restartDelay: 10, maxQuickFailures: 3 });
      await pool.ready;
      writeFileSync(mark, '');
      const delays: number[] = [];
      pool.on('restart', (_w: unknown, d: number) => delays.push(d));
      const failed = new Promise<Error>((r) => pool.once('error', r));
      void ask(portOf(pool.address), 'crash').catch(() => {});
      const e = await failed;
      expect(e.message).toMatch(/^worker 1 failed 3 times in a row, each within 5000 ms of starting \(last: .*\); giving up$/);
      if (mode === 'thread') expect(e.message).toContain('boom at start (exited with code 1)');
      expect(delays).toEqual([10, 20]);
      await pool.stop();
      expect(pool.workers).toEqual([]);
    } finally {
      delete process.env.WORKER_FIXTURE_MARK;
      rmSync(mark, { force: true });
    }
  });

  it('a worker that throws at start: ready rejects with the reason, the others are stopped', async () => {
    const mark = join(tmpdir(), `workers-mark0-${process.pid}-${mode}`);
    writeFileSync(mark, '');
    process.env.WORKER_FIXTURE_MARK = mark;
    try {
      const pool = startPool({ count: 2, mode, argv: ['0'] });
      await expect(pool.ready).rejects.toThrow(mode === 'thread' ? 'worker 1 failed to start: boom at start (exited with code 1)' : /^worker 1 failed to start: exited with code 1$/);
      expect(pool.workers).toEqual([]);
    } finally {
      delete process.env.WORKER_FIXTURE_MARK;
      rmSync(mark, { force: true });
    }
  });

  it('a port in use: ready rejects with EADDRINUSE', async () => {
    const taken = nodeNet.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    try {
      const pool = startPool({ count: 2, mode, argv: [String(portOf(taken.address()))] });
      expect(pool.mode).toBe(mode);
      const port = portOf(taken.address());
      await expect(pool.ready).rejects.toThrow(`worker 1 failed to start: listen EADDRINUSE: address already in use 127.0.0.1:${port} (exited with code 1)`);
    } finally {
      taken.close();
    }
  });
});

// ── --workers N on the example servers ─────────────────────────────────────────────────────
const HTTP_SERVER = join(packageDir, 'dist/examples/http-server.js');

/** Starts a program and resolves once its output matches `ready`. */
function startProgram(args: string[], ready: RegExp): Promise<{ proc: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    const look = (d: Buffer) => {
      out += d;
      const m = out.match(ready);
      if (m) resolve({ proc, match: m, output: () => out });
    };
    proc.stdout!.on('data', look);
    proc.stderr!.on('data', look);
    proc.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
}

/** Resolves once `text` shows up in the output (which `get` reads). */
async function waitFor(get: () => string, text: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
  const until = Date.now() + ms;
  for (;;) {
    const m = get().match(text);
    if (m) return m;
    if (Date.now() > until) throw new Error(`no ${text} in: ${get()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('--workers N on the example servers', () => {
  it.each([
    ['0', '--workers must be an integer from 1 to 1,024, got 0'],
    ['-1', '--workers must be an integer from 1 to 1,024, got -1'],
    ['x', '--workers must be an integer from 1 to 1,024, got x'],
    ['2 --worker-mode fiber', '--worker-mode must be thread or process, got fiber'],
  ])('--workers %s exits 2: %s', async (value, message) => {
    const r = await runChild(process.execPath, [HTTP_SERVER, '--port', '0', `--workers=${value.split(' ')[0]}`, ...value.split(' ').slice(1)]);
    expect({ code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ code: 2, stderr: `${message}\n(run with --help to see the flags)\n`, stdout: '' });
  });

  it('a port in use: the primary says EADDRINUSE and exits 2', async () => {
    const taken = nodeNet.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    try {
      const port = portOf(taken.address());
      const r = await runChild(process.execPath, [HTTP_SERVER, '--port', String(port), '--workers', '2'], { timeoutMs: 15_000 });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`http-server: worker 1 failed to start: listen EADDRINUSE: address already in use 127.0.0.1:${port} (exited with code 1)`);
    } finally {
      taken.close();
    }
  });

  it.each(['thread', 'process'])('workers that throw at start (%s): the primary says why and exits 2', async (mode) => {
    const r = await runChild(process.execPath, [join(packageDir, 'test/fixtures/workers/throwing-server.cjs'), '--workers', '2', '--worker-mode', mode], { timeoutMs: 15_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(mode === 'thread' ? /throwing-server: worker 1 failed to start: boom at start \(exited with code 1\)\n/ : /throwing-server: worker 1 failed to start: exited with code 1\n/);
  });

  it('http-server --workers 2 --stats: both workers answer, the stats are summed, SIGTERM drains and exits 0', async () => {
    const { proc, match, output } = await startProgram([HTTP_SERVER, '--port', '0', '--workers', '2', '--stats'], /listening on 127\.0\.0\.1:(\d+)/);
    const port = Number(match[1]);
    await waitFor(output, /2 workers \(threads\) ready/);
    const agent = new (await import('node:http')).Agent({ keepAlive: false });
    const http = await import('node:http');
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http.get({ port, host: '127.0.0.1', path, agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        }).on('error', reject);
      });
    for (let i = 0; i < 50; i++) expect(await get('/')).toBe('200 Hello, World!');
    expect(await get('/health')).toBe('200 ok');
    // 51 requests by now, summed over both workers in one line
    await waitFor(output, /workers 2 {2}conns \d+ {2}req\/s \d+/);
    const lines = () => [...output().matchAll(/workers 2 {2}conns \d+ {2}req\/s (\d+)/g)].map((m) => Number(m[1]));
    await waitFor(() => String(lines().reduce((a, b) => a + b, 0)), /^51$/, 5000);
    const exited = new Promise<number | null>((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toContain('SIGTERM: draining 2 workers\n');
    expect(output()).toContain('all workers drained\n');
  });

  it('--worker-mode process: a worker killed by SIGKILL is replaced, and the primary says so', async () => {
    const { proc, match, output } = await startProgram([HTTP_SERVER, '--port', '0', '--workers', '2', '--worker-mode', 'process'], /listening on 127\.0\.0\.1:(\d+)/);
    await waitFor(output, /2 workers \(processes\) ready/);
    // fork() runs on the primary's main thread: its children are listed there
    const kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    expect(kids).toHaveLength(2);
    process.kill(kids[0]!, 'SIGKILL');
    await waitFor(output, new RegExp(`http-server: worker \\d \\(process ${kids[0]}\\) killed by SIGKILL; starting a new one( in \\d+ ms)?\\n`));
    await waitFor(output, /worker \d \(process \d+\) listening \(generation 2\)\n/);
    const reply = await ask(Number(match[1]), 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const exited = new Promise<number | null>((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('zero downtime under load', () => {
  const hasWrk = spawnSync('wrk', ['-v']).error === undefined;
  it.skipIf(!hasWrk)('a rolling restart (SIGHUP) under wrk: zero non-2xx, zero socket errors, the primary exits 0 after SIGTERM', async () => {
    const { proc, match, output } = await startProgram([HTTP_SERVER, '--port', '0', '--workers', '2'], /listening on 127\.0\.0\.1:(\d+)/);
    await waitFor(output, /2 workers \(threads\) ready/);
    const wrk = runChild('wrk', ['-t1', '-c20', '-d3', `http://127.0.0.1:${match[1]}/`], { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 800));
    proc.kill('SIGHUP');
    await waitFor(output, /rolling restart done\n/);
    const r = await wrk;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\d+ requests in/);
    expect(r.stdout).not.toMatch(/Socket errors|Non-2xx/);
    expect(output()).toMatch(/worker 1 \(thread \d+\) listening \(generation 2\)\nworker 2 \(thread \d+\) listening \(generation 2\)\n/);
    const exited = new Promise<number | null>((res) => proc.on('exit', res));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  // #24 part 2: the drain itself under load. wrk cannot be the client here: after the drain it
  // reconnects, is refused, and counts that as a socket error; these clients stop when told
  // `Connection: close`, as the server asks.
  it.each(['thread', 'process'])('a SIGTERM drain under load (%s workers): every request begun before it answered 200, no socket error, exit 0', async (mode) => {
    const { proc, match, output } = await startProgram([HTTP_SERVER, '--port', '0', '--workers', '2', '--worker-mode', mode], /listening on 127\.0\.0\.1:(\d+)/);
    await waitFor(output, /2 workers \((threads|processes)\) ready/);
    const port = Number(match[1]);
    const clients = Array.from({ length: 16 }, () => new HttpClient(port));
    await sleep(500);
    let sentBefore: number[] = [];
    const exited = new Promise<number | null>((res) => proc.on('exit', res));
    // one more client has sent half a request when the signal comes, the rest 60 ms after it
    const late = await straggler(port, 'GET /late HTTP/1.1\r\nHo', 'st: x\r\n\r\n', () => {
      sentBefore = clients.map((c) => c.sent);
      proc.kill('SIGTERM');
    });
    expect(await exited).toBe(0);
    await Promise.all(clients.map((c) => c.closed));
    expect(late).toEqual({ got: OK_CLOSE, errors: [] });
    expect(clients.flatMap((c) => c.errors)).toEqual([]); // zero socket errors
    expect([...new Set(clients.flatMap((c) => [...c.statuses]))]).toEqual([200]); // zero non-2xx
    clients.forEach((c, i) => {
      expect(c.sent).toBeGreaterThan(0);
      expect(c.answered).toBe(c.sent);
      expect(c.answered).toBeGreaterThanOrEqual(sentBefore[i]!);
      expect(c.closedByServer).toBe(true);
    });
    expect(output()).toContain('SIGTERM: draining 2 workers\n');
    expect(output()).toContain('all workers drained\n');
    // one handler per process: neither the primary nor a worker ran the single-process shutdown
    expect(output()).not.toContain('shutting down');
  });
});
