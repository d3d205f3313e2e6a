// Shared test helpers: the package under test, fd accounting, small socket fixtures.
import { readdirSync, readlinkSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { afterEach, beforeEach, expect } from 'vitest';
import * as pkg from '../dist/lib/index.js';

export type { SystemError } from '../dist/lib/sys/index.js';

export const { sys } = pkg;
export { pkg };

/** The fds open in this process right now, as `fd -> target`. */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      fds.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the fd readdir itself used, closed again by now
    }
  }
  return fds;
}

/**
 * Snapshot the fd table; `check()` asserts that every fd opened since has been closed.
 * Use in beforeEach/afterEach or around one test.
 */
export function fdSnapshot(): { check(): void } {
  const before = openFds();
  return {
    check() {
      const leaked: string[] = [];
      for (const [fd, target] of openFds()) {
        if (!before.has(fd)) leaked.push(`${fd} -> ${target}`);
      }
      expect(leaked, 'fds leaked').toEqual([]);
    },
  };
}

/** Registers hooks that check every test of the file closes every fd it opens. */
export function checkFdsEachTest(): void {
  let fds: ReturnType<typeof fdSnapshot>;
  beforeEach(() => {
    fds = fdSnapshot();
  });
  afterEach(() => fds.check());
}

/**
 * Each test of the file gets a fresh `Loop` (handed to `use`), force-closed after it, and the fd
 * check of {@link checkFdsEachTest}.
 */
export function freshLoopEachTest(use: (loop: InstanceType<typeof pkg.Loop>) => void): void {
  let fds: ReturnType<typeof fdSnapshot>;
  let loop: InstanceType<typeof pkg.Loop>;
  beforeEach(() => {
    fds = fdSnapshot();
    loop = new pkg.Loop();
    use(loop);
  });
  afterEach(() => {
    loop.close({ force: true });
    fds.check();
  });
}

/** Expects `fn` to throw a SystemError with this code and syscall. */
export function expectSystemError(fn: () => unknown, code: string, syscall: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code} from ${syscall}`).toBeInstanceOf(Error);
  const e = caught as Error & { code: string; errno: number; syscall: string };
  expect(e.code).toBe(code);
  expect(e.syscall).toBe(syscall);
  expect(e.errno).toBe(-(sys.errno[code] as number));
  expect(e.message.startsWith(`${code}: `)).toBe(true);
  expect(e.message.endsWith(`, ${syscall}`)).toBe(true);
}

/** Expects `fn` to throw `type` (TypeError/RangeError) whose message names `arg`. */
export function expectArgError(fn: () => unknown, type: typeof TypeError | typeof RangeError, arg: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as Error).message).toContain(`"${arg}"`);
}

/** A listening TCP socket on 127.0.0.1 (non-blocking) and its port. */
export function tcpListener(): { fd: number; port: number } {
  const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
  sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEADDR, 1);
  sys.bind(fd, '127.0.0.1', 0);
  sys.listen(fd, 128);
  return { fd, port: sys.getsockname(fd).port };
}

/** A connected pair of non-blocking TCP sockets over loopback: [client, server]. */
export function tcpPair(): [number, number] {
  const l = tcpListener();
  const c = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
  const r = sys.connect(c, '127.0.0.1', l.port);
  expect(r === 0 || r === sys.EINPROGRESS).toBe(true);
  let s = -1;
  for (let i = 0; i < 1000 && s < 0; i++) {
    s = sys.accept4(l.fd, sys.SOCK_NONBLOCK);
    if (s < 0) waitFd(l.fd, sys.POLLIN, 100);
  }
  waitFd(c, sys.POLLOUT, 1000);
  sys.close(l.fd);
  expect(s).toBeGreaterThanOrEqual(0);
  return [c, s];
}

/** poll(2) one fd for `events`, up to `ms`; returns revents. */
export function waitFd(fd: number, events: number, ms: number): number {
  const p = new Int32Array([fd, events, 0]);
  sys.poll(p, ms);
  return p[2] as number;
}

/** Busy-free sleep for tests that need wall time to pass. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Busy-waits `ms` milliseconds (to keep a loop callback busy on purpose). */
export function spin(ms: number): void {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  while (process.hrtime.bigint() < end) {
    // burn
  }
}

/** process.hrtime in milliseconds (float). */
export function hrms(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The package root, for child scripts that `require` it. */
export const packageDir = new URL('..', import.meta.url).pathname;

export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `command args` to its end (SIGKILL after `timeoutMs`), collecting its output. */
export async function runChild(
  command: string,
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ChildResult> {
  const { spawn } = await import('node:child_process');
  const start = hrms();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd, env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
  clearTimeout(timer);
  return { code: exitCode, signal, stdout, stderr, ms: hrms() - start };
}

/**
 * Runs `code` in a fresh `node` process (CommonJS, with `pkg` = require('epoll-reactor') in
 * scope); resolves with its exit code, output and wall time.
 */
export function runScript(code: string, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; prefix?: string } = {}): Promise<ChildResult> {
  const script = `const pkg = require(${JSON.stringify(packageDir)});\n${code}`;
  // `prefix`: shell commands run first (e.g. 'ulimit -n 64; '), then node replaces the shell
  return options.prefix
    ? runChild('bash', ['-c', `${options.prefix} exec "$0" -e "$1"`, process.execPath, script], options)
    : runChild(process.execPath, ['-e', script], options);
}

type Drivers = 'attached' | 'standalone';
export const drivers: Drivers[] = ['attached', 'standalone'];

/**
 * Runs `scenario` on a fresh loop with the given driver and resolves with its result: attached
 * (inside Node's loop), or standalone (`loop.run()` until nothing is left). The scenario must use
 * only the loop (net, loop timers): Node's own timers are stalled under the standalone driver.
 */
export async function onLoop<T>(
  driver: Drivers,
  scenario: (loop: InstanceType<typeof pkg.Loop>) => Promise<T>,
  options: ConstructorParameters<typeof pkg.Loop>[0] = {},
): Promise<T> {
  const loop = new pkg.Loop(options);
  try {
    if (driver === 'attached') {
      loop.attach();
      return await scenario(loop);
    }
    const result = scenario(loop);
    result.catch(() => {}); // observed below, after run()
    // Node's timers cannot fire while run() sleeps: a watchdog on the loop itself ends a hung one.
    let hung = false;
    const watchdog = loop
      .setTimeout(() => {
        hung = true;
        loop.stop();
      }, 20_000)
      .unref();
    await loop.run();
    watchdog.close();
    if (hung) throw new Error('the scenario did not finish within 20 s (standalone loop stopped)');
    return await result;
  } finally {
    loop.close({ force: true });
  }
}

/** Resolves with the first emission of `event` (rejects on 'error' when `event` is not 'error'). */
export function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = (v: T) => {
      emitter.off('error', onError);
      resolve(v);
    };
    const onError = (e: unknown) => {
      emitter.off(event, onEvent);
      reject(e);
    };
    emitter.once(event, onEvent);
    if (event !== 'error') emitter.once('error', onError);
  });
}

/** Sends `data` on a fresh connection to 127.0.0.1:`port`; what comes back until the server closes or `ms` pass. */
export function exchange(port: number, data: string | Buffer, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const c = nodeNet.connect(port, '127.0.0.1', () => c.write(data));
    let got = '';
    c.on('data', (d) => {
      got += d.toString('latin1');
    });
    const done = (): void => {
      clearTimeout(timer);
      c.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, ms);
    c.on('close', done);
    c.on('error', done);
  });
}

/** Listens (default: an ephemeral port on 127.0.0.1) and resolves with the port. */
export async function listening(server: import('node:net').Server, ...args: unknown[]): Promise<number> {
  (server.listen as (...a: unknown[]) => void)(...(args.length > 0 ? args : [0, '127.0.0.1']));
  await once(server, 'listening');
  return (server.address() as import('node:net').AddressInfo).port;
}

/** Closes a server; rejects with close()'s error. */
export function closed(server: import('node:net').Server): Promise<void> {
  return new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
}

/** A response's whole body as UTF-8. */
export function bodyText(res: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      b += d;
    });
    res.on('end', () => resolve(b));
  });
}
