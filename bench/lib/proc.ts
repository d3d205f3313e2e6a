/**
 * Child processes for the benchmark: spawn pinned to a core (taskset), optionally with the
 * descriptor limit raised, wait for a line ("listening on …"), sample CPU time and memory from
 * /proc, and make sure every child is killed and reaped — on success, on error and on Ctrl-C.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';

/**
 * Set by setup: whether `taskset` can be used (otherwise processes run unpinned), and the list of
 * all CPUs — children spawned without a `cpu` get it explicitly, because they would otherwise
 * inherit the runner's own pinning to the load-generator core.
 */
export const placement = { taskset: false, allCpus: '' };

/** Clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK). */
let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep 100, the value on every Linux this runs on
}
export const CLK_TCK = clkTck;

export interface SpawnOptions {
  /** Short name for messages. */
  name: string;
  /** Pin to this CPU with `taskset -c` (default: all CPUs). */
  cpu?: number;
  /** Raise the soft RLIMIT_NOFILE to the hard limit first (1,000+ connections). */
  raiseNofile?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}

interface Waiter {
  re: RegExp;
  stream: 'stdout' | 'stderr';
  resolve: (m: RegExpExecArray) => void;
}

const live = new Set<Proc>();

const MAX_LINES = 5000;
const MAX_TAIL = 16 * 1024;

/** One child process, line-buffered on stdout and stderr. */
export class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stdoutLines: string[] = [];
  stdoutText = '';
  stderrTail = '';
  exitInfo: ExitInfo | null = null;
  readonly exited: Promise<ExitInfo>;
  onStdoutLine: ((line: string) => void) | null = null;
  onStderrLine: ((line: string) => void) | null = null;
  private readonly waiters: Waiter[] = [];
  private readonly exitListeners: ((e: ExitInfo) => void)[] = [];

  constructor(
    readonly name: string,
    readonly argv: string[],
    options: SpawnOptions,
  ) {
    const prefix: string[] = [];
    if (options.raiseNofile) prefix.push('bash', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bench');
    if (placement.taskset) {
      const cpus = options.cpu !== undefined ? String(options.cpu) : placement.allCpus;
      if (cpus) prefix.push('taskset', '-c', cpus);
    }
    const full = [...prefix, ...argv];
    this.child = spawn(full[0]!, full.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    this.pid = this.child.pid ?? -1;
    live.add(this);
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.exitInfo !== null) return;
        this.exitInfo = info;
        live.delete(this);
        for (const l of this.exitListeners) l(info);
        resolve(info);
      };
      this.child.on('error', (e) => done({ code: null, signal: null, error: e.message }));
      this.child.on('close', (code, signal) => done({ code, signal }));
    });
    this.lines(this.child.stdout!, 'stdout');
    this.lines(this.child.stderr!, 'stderr');
  }

  private lines(stream: NodeJS.ReadableStream, which: 'stdout' | 'stderr'): void {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      if (which === 'stdout') {
        this.stdoutText += chunk;
        if (this.stdoutText.length > 4 * MAX_TAIL) this.stdoutText = this.stdoutText.slice(-4 * MAX_TAIL);
      } else {
        this.stderrTail = (this.stderrTail + chunk).slice(-MAX_TAIL);
      }
      buf += chunk;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.line(line, which);
        i = buf.indexOf('\n');
      }
    });
    stream.on('end', () => {
      if (buf.length > 0) this.line(buf, which);
      buf = '';
    });
  }

  private line(line: string, which: 'stdout' | 'stderr'): void {
    if (which === 'stdout') {
      this.stdoutLines.push(line);
      if (this.stdoutLines.length > MAX_LINES) this.stdoutLines.splice(0, this.stdoutLines.length - MAX_LINES);
      this.onStdoutLine?.(line);
    } else {
      this.onStderrLine?.(line);
    }
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (w.stream !== which) continue;
      const m = w.re.exec(line);
      if (m) {
        this.waiters.splice(i, 1);
        i--;
        w.resolve(m);
      }
    }
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /**
   * Resolves with the first line (from now on, or already printed on stdout) matching `re`;
   * rejects if the process exits first or after `timeoutMs`.
   */
  waitFor(re: RegExp, timeoutMs: number, stream: 'stdout' | 'stderr' = 'stdout', includePast = true): Promise<RegExpExecArray> {
    if (includePast && stream === 'stdout') {
      for (const l of this.stdoutLines) {
        const m = re.exec(l);
        if (m) return Promise.resolve(m);
      }
    }
    if (includePast && stream === 'stderr') {
      for (const l of this.stderrTail.split('\n')) {
        const m = re.exec(l);
        if (m) return Promise.resolve(m);
      }
    }
    return new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms${this.describeOutput()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        re,
        stream,
        resolve: (m) => {
          clearTimeout(timer);
          offExit();
          resolve(m);
        },
      };
      const onExit = (e: ExitInfo): void => {
        clearTimeout(timer);
        remove();
        reject(new Error(`${this.name} exited (${describeExit(e)}) before printing ${re}${this.describeOutput()}`));
      };
      const remove = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        offExit();
      };
      const offExit = (): void => {
        const i = this.exitListeners.indexOf(onExit);
        if (i >= 0) this.exitListeners.splice(i, 1);
      };
      if (this.exitInfo !== null) {
        onExit(this.exitInfo);
        return;
      }
      this.waiters.push(waiter);
      this.exitListeners.push(onExit);
    });
  }

  describeOutput(): string {
    const err = this.stderrTail.trim().split('\n').slice(-6).join(' | ');
    return err ? `; stderr: ${err}` : '';
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exitInfo !== null) return;
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM (or `sig`), then SIGKILL after `graceMs`; resolves once the child is reaped. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<ExitInfo> {
    if (this.exitInfo !== null) return this.exitInfo;
    this.signal(sig);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }
}

let shuttingDown = false;

export function spawnProc(argv: string[], options: SpawnOptions): Proc {
  if (shuttingDown) throw new Error(`not starting ${options.name}: the benchmark is stopping`);
  return new Proc(options.name, argv, options);
}

export function describeExit(e: ExitInfo): string {
  if (e.error) return e.error;
  return e.signal ? `signal ${e.signal}` : `status ${e.code}`;
}

/** Run a command to completion (pinned like any child), killing it after `timeoutMs`. */
export async function runToEnd(
  argv: string[],
  options: SpawnOptions & { timeoutMs: number },
): Promise<{ exit: ExitInfo; stdout: string; stderr: string; timedOut: boolean; proc: Proc }> {
  const p = spawnProc(argv, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop('SIGKILL', 0);
  }, options.timeoutMs);
  const exit = await p.exited;
  clearTimeout(timer);
  return { exit, stdout: p.stdoutText, stderr: p.stderrTail, timedOut, proc: p };
}

/** Every child still running: stop them all (SIGTERM, then SIGKILL) and wait until reaped. */
export async function stopAll(options: { final?: boolean } = {}): Promise<void> {
  if (options.final) shuttingDown = true;
  await Promise.all([...live].map((p) => p.stop('SIGTERM', 2000)));
}

/** Last resort, synchronous (process 'exit'): SIGKILL whatever is left. */
export function killAllSync(): void {
  for (const p of live) p.signal('SIGKILL');
}

export function liveCount(): number {
  return live.size;
}

// ── /proc sampling ──────────────────────────────────────────────────────────────────────────

export interface CpuSample {
  /** utime + stime of the whole process, seconds (clock-tick resolution). */
  ticksS: number;
  /** Sum over the process's threads of /proc/<pid>/task/<tid>/schedstat run time, seconds. */
  schedS: number | null;
  /** When sampled (monotonic, seconds). */
  at: number;
}

export function cpuSample(pid: number): CpuSample | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksS = (Number(f[11]) + Number(f[12])) / CLK_TCK;
  let schedNs = 0;
  let ok = true;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        schedNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended between readdir and read
      }
    }
  } catch {
    ok = false;
  }
  return { ticksS, schedS: ok && schedNs > 0 ? schedNs / 1e9 : null, at: Number(process.hrtime.bigint()) / 1e9 };
}

/** CPU seconds between two samples: the ns-precise schedstat sum when available, else ticks. */
export function cpuDelta(a: CpuSample | null, b: CpuSample | null): { cpuS: number; ticksS: number; wallS: number } | null {
  if (!a || !b) return null;
  const ticksS = b.ticksS - a.ticksS;
  const sched = a.schedS !== null && b.schedS !== null ? b.schedS - a.schedS : null;
  // A thread that exited inside the window drops out of the schedstat sum; then trust ticks.
  const cpuS = sched !== null && sched >= 0 && sched >= ticksS - 2 / CLK_TCK ? sched : ticksS;
  return { cpuS, ticksS, wallS: b.at - a.at };
}

/** The pids of `pid`'s descendants (children, their children…), from the ppid field of /proc/<pid>/stat. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      // exited between readdir and read
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** CPU samples of a process and of every process in `pids` (its workers), keyed by pid. */
export type TreeSample = Map<number, CpuSample>;

export function treeSample(pids: number[]): TreeSample {
  const out: TreeSample = new Map();
  for (const pid of pids) {
    const s = cpuSample(pid);
    if (s) out.set(pid, s);
  }
  return out;
}

/**
 * CPU seconds of a process tree between two samples: the sum of {@link cpuDelta} over the pids
 * sampled both times (null if none was), and how many processes that was.
 */
export function treeDelta(a: TreeSample, b: TreeSample): { cpuS: number; wallS: number; processes: number } | null {
  let cpuS = 0;
  let wallS = 0;
  let processes = 0;
  for (const [pid, before] of a) {
    const d = cpuDelta(before, b.get(pid) ?? null);
    if (!d) continue;
    cpuS += d.cpuS;
    wallS = Math.max(wallS, d.wallS);
    processes++;
  }
  return processes > 0 ? { cpuS, wallS, processes } : null;
}

/** The whole machine's CPU time from /proc/stat: busy (user, nice, system, irq, softirq) and steal, seconds. */
export function machineSample(): { busyS: number; stealS: number; at: number } | null {
  try {
    const f = /^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]!.split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal …
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]!;
    return { busyS: busy / CLK_TCK, stealS: (f[7] ?? 0) / CLK_TCK, at: Number(process.hrtime.bigint()) / 1e9 };
  } catch {
    return null;
  }
}

export interface ProcStatus {
  rssBytes: number;
  /** Voluntary context switches of the main thread (each one = it blocked, e.g. in epoll_wait). */
  voluntaryCtxt: number;
  threads: number;
}

export function procStatus(pid: number): ProcStatus | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const num = (key: string): number => {
      const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(s);
      return m ? Number(m[1]) : Number.NaN;
    };
    return { rssBytes: num('VmRSS') * 1024, voluntaryCtxt: num('voluntary_ctxt_switches'), threads: num('Threads') };
  } catch {
    return null;
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether an executable is on PATH. */
export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
