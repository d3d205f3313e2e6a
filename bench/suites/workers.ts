/**
 * Suite — many cores (issue 24): the HTTP example as one loop, with `--workers 1`, and with
 * `--workers 2` (threads, and processes), against Node's `http` in one process and under Node's
 * `cluster` with two workers, all serving the same fixed response. wrk (two threads, 100 connections) and the
 * servers all run unpinned: on a 2-core machine the load generator shares the cores with the
 * workers, so the raw requests/s say what this machine does as a whole, and requests per server
 * CPU-second (every process of the server: the primary and its workers, or every thread of the
 * one process) say what each request costs. The machine's busy CPU over the window (/proc/stat)
 * says how full the cores were — other programs on the machine included.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { descendants, describeExit, machineSample, runToEnd, treeDelta, treeSample } from '../lib/proc';
import * as progress from '../lib/progress';
import { table } from '../lib/report-util';
import { checkHttpResponse, type Running, type ServerInfo, ServerPool, workersServers } from '../lib/servers';
import { fmtNum, fmtRatio, fmtSummary, fmtUs, ratios, summarize } from '../lib/stats';
import { parseWrk } from './http';

export interface WorkersRun {
  server: string;
  round: number;
  ok: boolean;
  error?: string;
  requests?: number;
  rps?: number;
  /** CPU seconds of the server's processes (all threads) over the window. */
  cpuS?: number;
  wallS?: number;
  /** How many processes the server was (1 for threads). */
  processes?: number;
  /** Server CPU ÷ wall time: cores' worth the server used. */
  serverCores?: number;
  /** The whole machine's busy CPU ÷ wall time (server, wrk and anything else running). */
  machineCores?: number;
  /** The hypervisor's steal time ÷ wall time. */
  stealCores?: number;
  reqPerCpuS?: number;
  latencyUs?: { p50: number; p99: number };
  non2xx?: number;
  socketErrors?: number;
}

export interface WorkersResult {
  skipped?: string;
  connections: number;
  threads: number;
  durationS: number;
  cpus: number;
  servers: ServerInfo[];
  runs: WorkersRun[];
}

const CONNECTIONS = 100;
const WRK_THREADS = 2;

export function workersSteps(ctx: Ctx): number {
  return ctx.settings.rounds * workersServers(ctx).length;
}

function wrkArgv(ctx: Ctx, s: Running, seconds: number): string[] {
  return [ctx.tools.wrk!, `-t${WRK_THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '--timeout', '5s', `http://${s.host}:${s.port}/`];
}

/** wrk on every CPU (no `cpu`: taskset gives it all of them, not the runner's core). */
async function wrk(ctx: Ctx, s: Running, seconds: number): Promise<{ out: string; error?: string }> {
  const r = await runToEnd(wrkArgv(ctx, s, seconds), { name: 'wrk', raiseNofile: true, timeoutMs: (seconds + 30) * 1000 });
  if (r.timedOut) return { out: r.stdout, error: `wrk did not finish within ${seconds + 30} s` };
  if (r.exit.code !== 0) return { out: r.stdout, error: `wrk failed (${describeExit(r.exit)}): ${r.stderr.trim().slice(-300)}` };
  return { out: r.stdout };
}

/** The command line of a process, or null when it is gone. */
function cmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
}

/** Every worker process seen, with its command line: killed at the end if its primary left it behind. */
const seen = new Map<number, string>();

async function measure(ctx: Ctx, s: Running, round: number): Promise<WorkersRun> {
  const seconds = ctx.settings.workersDuration;
  const pids = [s.proc.pid, ...descendants(s.proc.pid)];
  for (const pid of pids.slice(1)) seen.set(pid, cmdline(pid) ?? '');
  const before = treeSample(pids);
  const m0 = machineSample();
  const w = await wrk(ctx, s, seconds);
  const after = treeSample(pids);
  const m1 = machineSample();
  writeFileSync(path.join(ctx.rawDir, `workers-r${round}-${s.def.id}.txt`), w.out);
  const parsed = w.error ? null : parseWrk(w.out);
  const cpu = treeDelta(before, after);
  if (!parsed || !cpu) return { server: s.def.id, round, ok: false, error: w.error ?? (cpu ? 'could not parse wrk output' : 'server exited during the run') };
  if (cpu.processes < before.size) return { server: s.def.id, round, ok: false, error: `${before.size - cpu.processes} of the server's ${before.size} processes exited during the run` };
  const machine = m0 && m1 ? { busy: (m1.busyS - m0.busyS) / (m1.at - m0.at), steal: (m1.stealS - m0.stealS) / (m1.at - m0.at) } : null;
  const se = parsed.socketErrors;
  return {
    server: s.def.id,
    round,
    ok: true,
    requests: parsed.requests,
    rps: parsed.rps,
    cpuS: cpu.cpuS,
    wallS: cpu.wallS,
    processes: cpu.processes,
    serverCores: cpu.cpuS / cpu.wallS,
    ...(machine ? { machineCores: machine.busy, stealCores: machine.steal } : {}),
    reqPerCpuS: parsed.requests / cpu.cpuS,
    latencyUs: { p50: parsed.latencyUs.p50, p99: parsed.latencyUs.p99 },
    non2xx: parsed.non2xx,
    socketErrors: se.connect + se.read + se.write + se.timeout,
  };
}

export async function runWorkers(ctx: Ctx): Promise<WorkersResult> {
  const st = ctx.settings;
  const result: WorkersResult = { connections: CONNECTIONS, threads: WRK_THREADS, durationS: st.workersDuration, cpus: os.cpus().length, servers: [], runs: [] };
  if (!ctx.tools.wrk) {
    result.skipped = `wrk is not available: ${ctx.tools.wrkProblem ?? 'not installed'}`;
    return result;
  }
  const defs = workersServers(ctx);
  const pool = new ServerPool(ctx, 'workers');
  result.servers = pool.servers;
  try {
    await pool.startAll(defs, async (s, info) => {
      info.response = await checkHttpResponse(s.host, s.port);
      // One warm-up per server (it stays up for the suite): the JIT of every worker.
      progress.show(`[workers warm-up] ${s.def.id}`);
      await wrk(ctx, s, st.workersWarmup);
    });
    for (let round = 1; round <= st.rounds; round++) {
      for (const def of defs) {
        progress.nextStep(`[workers round ${round}/${st.rounds}] ${def.id}`);
        if (!pool.available(def)) continue;
        const s = await pool.ensure(def);
        if (!s) {
          result.runs.push({ server: def.id, round, ok: false, error: pool.reason(def) });
          continue;
        }
        result.runs.push(await measure(ctx, s, round));
      }
    }
  } finally {
    await pool.stopAll();
    // A primary killed after its grace period may leave workers behind: never leave a process running.
    for (const [pid, cmd] of seen) {
      if (cmd !== '' && cmdline(pid) === cmd) {
        progress.log(`workers: pid ${pid} outlived its primary; killing it`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    seen.clear();
  }
  return result;
}

// ── the report's section ────────────────────────────────────────────────────────────────────

/** Ratios a ÷ b per round, then median (min–max): per server CPU-second and raw. */
const PAIRS: [string, string, string][] = [
  ['ours-w1', 'ours-1', 'ours: 1 worker thread ÷ 1 loop'],
  ['ours-w2', 'ours-1', 'ours: 2 worker threads ÷ 1 loop'],
  ['ours-w2', 'ours-w1', 'ours: 2 worker threads ÷ 1 worker thread'],
  ['ours-w2p', 'ours-1', 'ours: 2 worker processes ÷ 1 loop'],
  ['node-cluster', 'node-http', 'Node: cluster of 2 ÷ 1 process'],
  ['ours-1', 'node-http', 'ours 1 loop ÷ Node http 1 process'],
  ['ours-w2', 'node-cluster', 'ours 2 worker threads ÷ Node cluster of 2'],
  ['ours-w2p', 'node-cluster', 'ours 2 worker processes ÷ Node cluster of 2'],
];

export function workersMarkdown(r: WorkersResult): string {
  let md = `## Workers: one loop per core against Node's cluster (issue 24)\n\n`;
  if (r.skipped) return `${md}Skipped: ${r.skipped}\n\n`;
  md +=
    `wrk -t${r.threads} -c${r.connections}, ${r.durationS} s per run, rounds interleaved; servers and wrk unpinned on this ${r.cpus}-CPU machine, so the load generator ` +
    'shares the cores with the workers. *server CPU* is cores\' worth used by every process (primary and workers) or every thread of the server; *machine busy* is the whole ' +
    "machine's, wrk and other programs included. Median (min–max) over rounds.\n\n";
  const rounds = Math.max(0, ...r.runs.map((x) => x.round));
  const perRound = (id: string, f: (x: WorkersRun) => number | undefined): (number | undefined)[] =>
    Array.from({ length: rounds }, (_, i) => {
      const run = r.runs.find((x) => x.ok && x.server === id && x.round === i + 1);
      return run ? f(run) : undefined;
    });
  const sm = (id: string, f: (x: WorkersRun) => number | undefined) => summarize(perRound(id, f).filter((x): x is number => x !== undefined));
  const rows: string[][] = [];
  for (const s of r.servers) {
    const ok = r.runs.some((x) => x.ok && x.server === s.id);
    if (!s.available || !ok) {
      rows.push([s.label, s.reason ?? r.runs.find((x) => x.server === s.id)?.error ?? 'failed', '', '', '', '', '']);
      continue;
    }
    const p99 = sm(s.id, (x) => x.latencyUs?.p99);
    rows.push([
      s.label,
      fmtSummary(sm(s.id, (x) => x.rps), 0),
      fmtSummary(sm(s.id, (x) => x.serverCores), 2),
      fmtSummary(sm(s.id, (x) => x.reqPerCpuS), 0),
      fmtSummary(sm(s.id, (x) => x.machineCores), 2),
      `${fmtUs(sm(s.id, (x) => x.latencyUs?.p50)?.median ?? Number.NaN)} / ${fmtUs(p99?.median ?? Number.NaN)}`,
      String(sm(s.id, (x) => x.processes)?.median ?? '–'),
    ]);
  }
  md += table(['server', 'req/s', 'server CPU (cores)', 'req per server CPU-s', 'machine busy (cores)', 'latency p50 / p99', 'processes'], rows);
  md += '\n\n';
  const ratioRows: string[][] = [];
  for (const [a, b, label] of PAIRS) {
    if (!r.servers.some((s) => s.id === a) || !r.servers.some((s) => s.id === b)) continue;
    const pc = summarize(ratios(perRound(a, (x) => x.reqPerCpuS), perRound(b, (x) => x.reqPerCpuS)));
    const raw = summarize(ratios(perRound(a, (x) => x.rps), perRound(b, (x) => x.rps)));
    ratioRows.push([label, fmtRatio(pc), fmtRatio(raw)]);
  }
  md += 'Ratios per round, then median (min–max):\n\n';
  md += table(['', 'per server CPU-second', 'raw req/s'], ratioRows);
  md += '\n\n';
  const checks = r.servers.filter((s) => s.response !== undefined);
  if (checks.length > 0) md += `Response bytes (one GET, compared with bench/c/http-server.c's): ${checks.map((s) => `${s.id} ${s.response}`).join('; ')}.\n\n`;
  const errs = r.runs.filter((x) => x.ok && ((x.non2xx ?? 0) > 0 || (x.socketErrors ?? 0) > 0));
  if (errs.length > 0) md += `wrk reported errors in ${errs.length} run(s): ${errs.map((x) => `${x.server} r${x.round} (non-2xx ${x.non2xx}, socket ${x.socketErrors})`).join('; ')}.\n\n`;
  const steal = summarize(r.runs.filter((x) => x.ok && x.stealCores !== undefined).map((x) => x.stealCores!));
  if (steal && steal.max > 0.05) md += `The hypervisor took ${fmtNum(steal.median, 2)} cores' worth (steal, up to ${fmtNum(steal.max, 2)}) during the runs.\n\n`;
  const fails = r.runs.filter((x) => !x.ok);
  if (fails.length > 0) md += `Failed runs:\n${fails.map((x) => `- ${x.server} round ${x.round}: ${x.error}`).join('\n')}\n\n`;
  return md;
}
