/**
 * The servers under comparison, how to start them (pinned to the server core, on a free port,
 * waiting for `listening on HOST:PORT`), and the check that an HTTP server sends the same bytes
 * as the others.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { RESPONSE } from '../servers/response';
import { type Ctx, exists } from './context';
import { describeExit, freePort, type Proc, spawnProc } from './proc';
import * as progress from './progress';

export type ServerKind = 'ours' | 'node' | 'c';

export interface ServerDef {
  id: string;
  label: string;
  kind: ServerKind;
  /** Command line for a port (and whether to print --report lines). */
  argv(port: number, report: boolean): string[];
  /** Why it cannot run here, or null. */
  unavailable(): string | null;
  /** Measured only at these connection counts (default: every count of the suite). */
  connections?: number[];
  /** Runs on every CPU instead of the server core (the workers suite: one loop per core). */
  unpinned?: boolean;
}

const NODE = process.execPath;

function oursDef(ctx: Ctx, id: string, label: string, file: string, driver: string, http: boolean, standin: string): ServerDef {
  const script = path.join(ctx.distExamples, file);
  if (ctx.standinOurs) {
    const s = path.join(ctx.distBench, 'servers', standin);
    return {
      id,
      label: `${label} [stand-in: ${standin}]`,
      kind: 'ours',
      argv: (port, report) => [NODE, s, '--port', String(port), '--host', '127.0.0.1', ...(report ? ['--report'] : [])],
      unavailable: () => null,
    };
  }
  return {
    id,
    label,
    kind: 'ours',
    argv: (port, report) => [
      NODE,
      script,
      '--port',
      String(port),
      ...(http ? ['--host', '127.0.0.1'] : []),
      // The same backlog as the Node comparison servers and the C ones (the examples' default is Node's 511).
      ...['--backlog', '4096'],
      '--driver',
      driver,
      ...(report ? ['--report'] : []),
    ],
    unavailable: () => (exists(script) ? null : `not available yet (${path.relative(ctx.root, script)} does not exist)`),
  };
}

function benchNode(ctx: Ctx, id: string, label: string, file: string): ServerDef {
  const script = path.join(ctx.distBench, 'servers', file);
  return {
    id,
    label,
    kind: 'node',
    argv: (port, report) => [NODE, script, '--port', String(port), '--host', '127.0.0.1', ...(report ? ['--report'] : [])],
    unavailable: () => (exists(script) ? null : `${script} missing (run npm run build:ts)`),
  };
}

function cDef(ctx: Ctx, id: string, label: string, bin: string, extraArgs: string[] = []): ServerDef {
  const exe = path.join(ctx.cbin, bin);
  return {
    id,
    label,
    kind: 'c',
    argv: (port) => [exe, '--port', String(port), '--host', '127.0.0.1', ...extraArgs],
    unavailable: () => (exists(exe) ? null : `${exe} missing (bench/c/build.sh failed?)`),
  };
}

/** A C server on libuv (bench/c/uv-*.c): needs libuv1-dev, which setup installs when it can. */
function uvDef(ctx: Ctx, bin: string): ServerDef {
  const def = cDef(ctx, 'uv', 'libuv C', bin);
  return { ...def, unavailable: () => (ctx.tools.libuv ? def.unavailable() : `libuv not available: ${ctx.tools.libuvProblem ?? 'no <uv.h>'}`) };
}

export function httpServers(ctx: Ctx): ServerDef[] {
  return [
    oursDef(ctx, 'ours-standalone', 'ours · standalone', 'http-server.js', 'standalone', true, 'node-net-http.js'),
    oursDef(ctx, 'ours-node', 'ours · node driver', 'http-server.js', 'node', true, 'node-net-http.js'),
    benchNode(ctx, 'node-http', 'Node http', 'node-http.js'),
    benchNode(ctx, 'node-net', 'Node net (minimal)', 'node-net-http.js'),
    cDef(ctx, 'c', 'C epoll', 'http-server'),
    // The same C server in a multi-threaded process (one idle thread), as every Node process is:
    // the kernel's extra cost per fd syscall for that, shown apart (see bench/c/http-server.c).
    cDef(ctx, 'c-mt', 'C epoll + idle thread', 'http-server', ['--idle-thread']),
    // libuv itself, in C: Node's loop without Node (bench/c/uv-http-server.c).
    uvDef(ctx, 'uv-http-server'),
  ];
}

export function echoServers(ctx: Ctx): ServerDef[] {
  return [
    oursDef(ctx, 'ours-standalone', 'ours · standalone', 'echo-server.js', 'standalone', false, 'node-net-echo.js'),
    oursDef(ctx, 'ours-node', 'ours · node driver', 'echo-server.js', 'node', false, 'node-net-echo.js'),
    benchNode(ctx, 'node-net', 'Node net', 'node-net-echo.js'),
    cDef(ctx, 'c', 'C epoll', 'echo-server'),
    uvDef(ctx, 'uv-echo-server'),
    // The same echo written as `socket.pipe(socket)`, on our net and on Node's (issue 27):
    // the stream layer's cost, at 100 connections only.
    ...pipeEchoServers(ctx).map((d) => ({ ...d, connections: [PIPE_CONNECTIONS] })),
  ];
}

/** The connection count of the pipe rows of the echo suite (their target is judged there). */
export const PIPE_CONNECTIONS = 100;

function pipeEchoServers(ctx: Ctx): ServerDef[] {
  const ours = (id: string, label: string, driver: string): ServerDef => {
    if (ctx.standinOurs) return { ...benchNode(ctx, id, `${label} [stand-in: node-net-pipe-echo.js]`, 'node-net-pipe-echo.js'), kind: 'ours' };
    const def = benchNode(ctx, id, label, 'ours-pipe-echo.js');
    return { ...def, kind: 'ours', argv: (port, report) => [...def.argv(port, report), '--driver', driver] };
  };
  return [
    ours('ours-pipe', 'ours · pipe · standalone', 'standalone'),
    ours('ours-pipe-node', 'ours · pipe · node driver', 'node'),
    benchNode(ctx, 'node-net-pipe', 'Node net · pipe', 'node-net-pipe-echo.js'),
  ];
}

/**
 * The workers suite (issue 24): examples/http-server.ts as one loop and as `--workers 2` (threads,
 * and processes), against the Node `http` app of node-http.ts in one process and under Node's
 * `cluster` with 2 workers. Unpinned: the point is to use both cores.
 */
export function workersServers(ctx: Ctx): ServerDef[] {
  const ours = (id: string, label: string, extra: string[]): ServerDef => {
    const def = oursDef(ctx, id, label, 'http-server.js', 'standalone', true, 'node-net-http.js');
    if (extra.length === 0) return def;
    if (ctx.standinOurs) {
      const s = benchNode(ctx, id, `${label} [stand-in: node-http-cluster.js]`, 'node-http-cluster.js');
      return { ...s, kind: 'ours', argv: (port, report) => [...s.argv(port, report), '--workers', extra[1]!] };
    }
    return { ...def, argv: (port, report) => [...def.argv(port, report), ...extra] };
  };
  const cluster = benchNode(ctx, 'node-cluster', 'Node http · cluster, 2 workers', 'node-http-cluster.js');
  const defs: ServerDef[] = [
    ours('ours-1', 'ours · 1 loop', []),
    // The pool with one worker: what the pool itself costs (a primary, a worker thread), apart from a second loop.
    ours('ours-w1', 'ours · --workers 1 (thread)', ['--workers', '1']),
    ours('ours-w2', 'ours · --workers 2 (threads)', ['--workers', '2']),
    ours('ours-w2p', 'ours · --workers 2 (processes)', ['--workers', '2', '--worker-mode', 'process']),
    benchNode(ctx, 'node-http', 'Node http · 1 process', 'node-http.js'),
    { ...cluster, argv: (port, report) => [...cluster.argv(port, report), '--workers', '2'] },
  ];
  return defs.map((d) => ({ ...d, unpinned: true }));
}

export interface Running {
  def: ServerDef;
  proc: Proc;
  host: string;
  port: number;
}

/** Start a server pinned to the server core; resolves once it printed `listening on`. */
export async function startServer(ctx: Ctx, def: ServerDef, options: { report?: boolean } = {}): Promise<Running> {
  const port = await freePort();
  const proc = spawnProc(def.argv(port, options.report === true), { name: def.id, cpu: def.unpinned ? undefined : ctx.serverCpu, raiseNofile: true, cwd: ctx.root });
  try {
    const m = await proc.waitFor(/listening on (\S+):(\d+)/, 15_000);
    const host = m[1] === '0.0.0.0' || m[1] === '::' || m[1] === 'localhost' ? '127.0.0.1' : m[1]!;
    return { def, proc, host, port: Number(m[2]) };
  } catch (e) {
    await proc.stop('SIGKILL', 0);
    throw e;
  }
}

/** What the report says about one server of a throughput suite. */
export interface ServerInfo {
  id: string;
  label: string;
  kind: string;
  available: boolean;
  reason?: string;
  response?: string;
  /** Measured only at these connection counts (absent: at every count). */
  connections?: number[];
}

/**
 * The servers of a throughput suite (HTTP, echo): each started once and kept warm across
 * rounds, restarted if it exited, stopped at the end. Unavailable ones (not built, no tool)
 * are recorded with the reason and skipped.
 */
export class ServerPool {
  readonly servers: ServerInfo[] = [];
  private readonly infos = new Map<string, ServerInfo>();
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly ctx: Ctx,
    private readonly suite: string,
  ) {}

  /** Registers every server and starts the available ones; `onStarted` runs after each start. */
  async startAll(defs: ServerDef[], onStarted?: (s: Running, info: ServerInfo) => Promise<void>): Promise<void> {
    for (const def of defs) {
      const info: ServerInfo = { id: def.id, label: def.label, kind: def.kind, available: false, ...(def.connections ? { connections: def.connections } : {}) };
      this.infos.set(def.id, info);
      this.servers.push(info);
      const why = def.unavailable();
      if (why) {
        info.reason = why;
        continue;
      }
      progress.show(`[${this.suite} setup] starting ${def.id}`);
      const s = await this.start(def);
      if (s && onStarted) await onStarted(s, info);
    }
  }

  /** The running server, if it started. */
  get(def: ServerDef): Running | undefined {
    return this.running.get(def.id);
  }

  /** Whether `def` could be started at all. */
  available(def: ServerDef): boolean {
    return this.infos.get(def.id)?.available === true;
  }

  /** The server, restarted first if it exited; null (with `reason()`) when it cannot run. */
  async ensure(def: ServerDef): Promise<Running | null> {
    const s = this.running.get(def.id);
    if (s?.proc.running) return s;
    progress.log(`${this.suite}: ${def.id} exited (${s?.proc.exitInfo ? describeExit(s.proc.exitInfo) : '?'}); restarting it`);
    return this.start(def);
  }

  /** Why `def` is not available (or could not be restarted). */
  reason(def: ServerDef): string {
    return this.infos.get(def.id)?.reason ?? 'could not restart';
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((s) => s.proc.stop()));
  }

  private async start(def: ServerDef): Promise<Running | null> {
    const info = this.infos.get(def.id)!;
    try {
      const s = await startServer(this.ctx, def);
      this.running.set(def.id, s);
      info.available = true;
      return s;
    } catch (e) {
      info.available = false;
      info.reason = `failed to start: ${(e as Error).message}`;
      return null;
    }
  }
}

/** The --report lines a server printed so far, parsed. */
export function reportLines(proc: Proc): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of proc.stdoutLines) {
    if (!l.startsWith('{')) continue;
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      if (o.type === 'stats') out.push(o);
    } catch {
      // not a report line
    }
  }
  return out;
}

/**
 * Send one keep-alive GET and compare the response with the fixed bytes every server must send.
 * Returns "identical" or a short description of the difference.
 */
export function checkHttpResponse(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (msg?: string): void => {
      sock.destroy();
      clearTimeout(timer);
      if (msg) {
        resolve(msg);
        return;
      }
      const got = Buffer.concat(chunks);
      if (got.equals(RESPONSE)) resolve('identical');
      else {
        const head = got.toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n/g, ' | ');
        resolve(`differs (${got.length} bytes vs ${RESPONSE.length}): ${head.slice(0, 200)}`);
      }
    };
    const timer = setTimeout(() => finish('no complete response within 3 s'), 3000);
    sock.on('connect', () => sock.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n'));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      total += d.length;
      const s = Buffer.concat(chunks).toString('latin1');
      const headEnd = s.indexOf('\r\n\r\n');
      if (headEnd >= 0) {
        const m = /content-length:\s*(\d+)/i.exec(s.slice(0, headEnd));
        const want = headEnd + 4 + (m ? Number(m[1]) : 0);
        if (total >= want) finish();
      }
    });
    sock.on('error', (e) => finish(`request failed: ${e.message}`));
    sock.on('end', () => finish());
  });
}
