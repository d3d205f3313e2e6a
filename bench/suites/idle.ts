/**
 * Suite 4 — idle: a server holding 10,000 idle connections (opened by `echo-client --hold` on
 * the load core) with one 1 s interval timer running (its --report line), measured over a window
 * (10 s; 2 s in --quick):
 * - CPU time of the server (from /proc, all threads);
 * - wake-ups: epoll_wait/epoll_pwait/epoll_pwait2 calls counted by `strace -f -c` attached for the
 *   window, voluntary context switches of the main thread (each one is a sleep that ended), and
 *   for ours the loop's own iteration count from --report;
 * - memory: RSS before the connections vs after, per connection — right after they were accepted,
 *   and again at the end of the window, when V8's memory reducer has usually returned what the
 *   burst of accepts made the heap grow by (its young generation, mostly).
 */
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { cpuDelta, cpuSample, describeExit, type Proc, procStatus, sleep, spawnProc } from '../lib/proc';
import * as progress from '../lib/progress';
import { echoServers, reportLines, type ServerDef, startServer } from '../lib/servers';

export interface IdleRun {
  impl: string;
  round: number;
  ok: boolean;
  error?: string;
  held?: number;
  /** Seconds from starting echo-client --hold (paced at HOLD_RATE) to "held N": about
   * N / HOLD_RATE unless the server accepts more slowly than that. */
  connectS?: number;
  accepted?: number | null;
  windowS?: number;
  cpuS?: number;
  /** Server CPU per wall second of the window, µs/s. */
  cpuUsPerS?: number;
  /** strace -c counts of the epoll waits over the window (null when strace is unavailable). */
  epollCalls?: Record<string, number> | null;
  straceNote?: string;
  /** Length of the traced window (seconds). */
  straceWindowS?: number;
  epollPerS?: number | null;
  ctxSwitchesPerS?: number;
  iterationsPerS?: number | null;
  rssBeforeBytes?: number;
  rssAfterBytes?: number;
  rssPerConnBytes?: number;
  heapPerConnBytes?: number | null;
  /** RSS at the end of the (untraced) window, and per connection from it. */
  rssIdleBytes?: number;
  rssIdlePerConnBytes?: number;
  heapIdlePerConnBytes?: number | null;
}

export interface IdleResult {
  connections: number;
  windowS: number;
  servers: { id: string; label: string; available: boolean; reason?: string }[];
  runs: IdleRun[];
}

/** Our echo server under both drivers, and Node net. */
function idleServers(ctx: Ctx): ServerDef[] {
  return echoServers(ctx).filter((d) => d.kind !== 'c');
}

/**
 * Connects per second for echo-client --hold. Unpaced, 10,000 connects overrun a listen backlog
 * (511 for Node's and our default) faster than a JS server accepts, and the dropped SYNs are
 * retried by the kernel after 1 s, 3 s, … — seconds of waiting that measure the client's burst.
 */
const HOLD_RATE = 20_000;

/** The traced window: shorter than the main one, a handful of 1 s timer periods is enough. */
function straceWindowS(ctx: Ctx): number {
  return ctx.settings.mode === 'quick' ? 2 : Math.min(ctx.settings.idleWindow, 5);
}

export function idleSteps(ctx: Ctx): number {
  return ctx.settings.idleRounds * idleServers(ctx).length;
}

function lastReport(proc: Proc): Record<string, unknown> | undefined {
  const r = reportLines(proc);
  return r[r.length - 1];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Parse `strace -c` summary lines: "% time seconds usecs/call calls [errors] syscall". */
export function parseStraceSummary(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t.length < 5 || !/^[\d.]+$/.test(t[0]!)) continue;
    const name = t[t.length - 1]!;
    if (name === 'total') continue;
    out[name] = Number(t[3]);
  }
  return out;
}

async function measureOne(ctx: Ctx, def: ServerDef, round: number): Promise<IdleRun> {
  const st = ctx.settings;
  const run: IdleRun = { impl: def.id, round, ok: false };
  const server = await startServer(ctx, def, { report: true });
  let client: Proc | null = null;
  let strace: Proc | null = null;
  try {
    const pid = server.proc.pid;
    await sleep(st.mode === 'quick' ? 400 : 1500);
    const rss0 = procStatus(pid);
    const heap0 = num(lastReport(server.proc)?.heapUsedBytes);
    client = spawnProc(
      [
        path.join(ctx.cbin, 'echo-client'),
        ...['--host', server.host, '--port', String(server.port)],
        ...['--connections', String(st.idleConnections), '--hold', '--rate', String(HOLD_RATE)],
      ],
      { name: 'echo-client --hold', cpu: ctx.clientCpu, raiseNofile: true },
    );
    const tConnect = process.hrtime.bigint();
    const m = await client.waitFor(/^held (\d+)/, 90_000);
    run.connectS = Number(process.hrtime.bigint() - tConnect) / 1e9;
    run.held = Number(m[1]);
    // Wait until the server reports having accepted them all (its report is once a second).
    const until = Date.now() + 8000;
    run.accepted = null;
    while (Date.now() < until) {
      const c = num(lastReport(server.proc)?.connections);
      if (c !== null) run.accepted = c;
      if (c !== null && c >= run.held) break;
      await sleep(200);
    }
    await sleep(st.mode === 'quick' ? 300 : 1500);
    const rss1 = procStatus(pid);
    const heap1 = num(lastReport(server.proc)?.heapUsedBytes);
    // Window 1, untraced: CPU time, context switches, loop iterations.
    const reports0 = reportLines(server.proc);
    const it0 = num(reports0[reports0.length - 1]?.iterations);
    const cpu0 = cpuSample(pid);
    const sw0 = procStatus(pid);
    await sleep(st.idleWindow * 1000);
    const cpu1 = cpuSample(pid);
    const sw1 = procStatus(pid);
    const reports1 = reportLines(server.proc);
    const it1 = num(reports1[reports1.length - 1]?.iterations);
    const heap2 = num(reports1[reports1.length - 1]?.heapUsedBytes);
    // Window 2, traced: strace stops the server at every syscall (which would inflate its CPU
    // time and context switches), so the epoll waits are counted in a window of their own.
    run.epollCalls = null;
    if (ctx.tools.strace) {
      strace = spawnProc(['strace', '-f', '-c', '-e', 'trace=epoll_wait,epoll_pwait,epoll_pwait2', '-p', String(pid)], {
        name: 'strace',
        cpu: ctx.clientCpu,
      });
      try {
        await strace.waitFor(/attached/, 10_000, 'stderr');
        const t0 = process.hrtime.bigint();
        await sleep(straceWindowS(ctx) * 1000);
        const s = strace;
        s.signal('SIGINT');
        const timer = setTimeout(() => s.signal('SIGKILL'), 5000);
        await s.exited;
        clearTimeout(timer);
        const traced = Number(process.hrtime.bigint() - t0) / 1e9;
        run.epollCalls = parseStraceSummary(s.stderrTail);
        run.epollPerS = Object.values(run.epollCalls).reduce((a, b) => a + b, 0) / traced;
        run.straceWindowS = traced;
      } catch (e) {
        run.straceNote = `strace failed: ${(e as Error).message}`;
        await strace.stop('SIGKILL', 0);
      }
      strace = null;
    } else {
      run.straceNote = ctx.tools.straceProblem ?? 'strace not installed';
    }
    const cpu = cpuDelta(cpu0, cpu1);
    if (!cpu || !sw0 || !sw1 || !rss0 || !rss1) throw new Error(`server exited during the window${server.proc.describeOutput()}`);
    run.windowS = cpu.wallS;
    run.cpuS = cpu.cpuS;
    run.cpuUsPerS = (cpu.cpuS * 1e6) / cpu.wallS;
    run.ctxSwitchesPerS = (sw1.voluntaryCtxt - sw0.voluntaryCtxt) / cpu.wallS;
    if (run.epollPerS === undefined) run.epollPerS = null;
    // The report line comes once a second, so the iteration delta spans whole report periods.
    const periods = reports1.length - reports0.length;
    run.iterationsPerS = it0 !== null && it1 !== null && periods > 0 ? (it1 - it0) / periods : null;
    run.rssBeforeBytes = rss0.rssBytes;
    run.rssAfterBytes = rss1.rssBytes;
    run.rssPerConnBytes = (rss1.rssBytes - rss0.rssBytes) / Math.max(1, run.held);
    run.heapPerConnBytes = heap0 !== null && heap1 !== null ? (heap1 - heap0) / Math.max(1, run.held) : null;
    run.rssIdleBytes = sw1.rssBytes;
    run.rssIdlePerConnBytes = (sw1.rssBytes - rss0.rssBytes) / Math.max(1, run.held);
    run.heapIdlePerConnBytes = heap0 !== null && heap2 !== null ? (heap2 - heap0) / Math.max(1, run.held) : null;
    if (!client.running) throw new Error(`echo-client --hold exited early (${client.exitInfo ? describeExit(client.exitInfo) : '?'})${client.describeOutput()}`);
    run.ok = true;
  } finally {
    if (strace) await strace.stop('SIGKILL', 0);
    if (client) await client.stop();
    await server.proc.stop();
  }
  return run;
}

export async function runIdle(ctx: Ctx): Promise<IdleResult> {
  const st = ctx.settings;
  const defs = idleServers(ctx);
  const result: IdleResult = { connections: st.idleConnections, windowS: st.idleWindow, servers: [], runs: [] };
  for (const d of defs) {
    const why = d.unavailable();
    result.servers.push(why ? { id: d.id, label: d.label, available: false, reason: why } : { id: d.id, label: d.label, available: true });
  }
  for (let round = 1; round <= st.idleRounds; round++) {
    for (const def of defs) {
      progress.nextStep(`[idle ${st.idleConnections.toLocaleString('en-US')} conns round ${round}/${st.idleRounds}] ${def.id}`);
      const info = result.servers.find((s) => s.id === def.id)!;
      if (!info.available) continue;
      try {
        result.runs.push(await measureOne(ctx, def, round));
      } catch (e) {
        result.runs.push({ impl: def.id, round, ok: false, error: (e as Error).message });
      }
    }
  }
  return result;
}
