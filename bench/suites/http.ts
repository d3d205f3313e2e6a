/**
 * Suite 1 — HTTP plaintext keep-alive: wrk (one thread, on the load core) against each server
 * (on the server core) at 100 and 1,000 connections, interleaved round by round. The server's
 * CPU time is sampled from /proc right before and right after the measured wrk run, so each run
 * gives raw requests/s and requests per server CPU-second.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { cpuDelta, cpuSample, describeExit, runToEnd } from '../lib/proc';
import * as progress from '../lib/progress';
import { checkHttpResponse, httpServers, type Running, ServerPool, type ServerInfo } from '../lib/servers';

export type { ServerInfo };

export interface HttpRun {
  server: string;
  conns: number;
  round: number;
  ok: boolean;
  error?: string;
  requests?: number;
  rps?: number;
  wrkSeconds?: number;
  cpuS?: number;
  wallS?: number;
  /** Server CPU time / wall time of the window (1 = one core fully busy). */
  cpuShare?: number;
  cpuUsPerReq?: number;
  reqPerCpuS?: number;
  latencyUs?: { p50: number; p75: number; p90: number; p99: number; mean: number; max: number };
  socketErrors?: { connect: number; read: number; write: number; timeout: number };
  non2xx?: number;
}

export interface HttpResult {
  skipped?: string;
  connections: number[];
  servers: ServerInfo[];
  runs: HttpRun[];
}

const UNIT_US: Record<string, number> = { us: 1, ms: 1000, s: 1e6, m: 60e6 };

function toUs(v: string, unit: string): number {
  return Number(v) * (UNIT_US[unit] ?? Number.NaN);
}

export interface WrkOutput {
  requests: number;
  seconds: number;
  rps: number;
  latencyUs: { p50: number; p75: number; p90: number; p99: number; mean: number; max: number };
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
}

export function parseWrk(out: string): WrkOutput | null {
  const req = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!req || !rps) return null;
  const lat = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toUs(m[1]!, m[2]!) : Number.NaN;
  };
  const stats = /Latency\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)/.exec(out);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    requests: Number(req[1]),
    seconds: toUs(req[2]!, req[3]!) / 1e6,
    rps: Number(rps[1]),
    latencyUs: {
      p50: lat('50'),
      p75: lat('75'),
      p90: lat('90'),
      p99: lat('99'),
      mean: stats ? toUs(stats[1]!, stats[2]!) : Number.NaN,
      max: stats ? toUs(stats[5]!, stats[6]!) : Number.NaN,
    },
    socketErrors: se
      ? { connect: Number(se[1]), read: Number(se[2]), write: Number(se[3]), timeout: Number(se[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

function wrkArgv(ctx: Ctx, s: Running, conns: number, seconds: number): string[] {
  return [ctx.tools.wrk!, '-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '--timeout', '5s', `http://${s.host}:${s.port}/`];
}

async function wrk(ctx: Ctx, s: Running, conns: number, seconds: number): Promise<{ out: string; error?: string }> {
  const r = await runToEnd(wrkArgv(ctx, s, conns, seconds), {
    name: 'wrk',
    cpu: ctx.clientCpu,
    raiseNofile: true,
    timeoutMs: (seconds + 30) * 1000,
  });
  if (r.timedOut) return { out: r.stdout, error: `wrk did not finish within ${seconds + 30} s` };
  if (r.exit.code !== 0) return { out: r.stdout, error: `wrk failed (${describeExit(r.exit)}): ${r.stderr.trim().slice(-300)}` };
  return { out: r.stdout };
}

export function httpSteps(ctx: Ctx): number {
  const n = httpServers(ctx).length;
  return ctx.settings.rounds * ctx.settings.httpConnections.length * n;
}

export async function runHttp(ctx: Ctx): Promise<HttpResult> {
  const st = ctx.settings;
  const result: HttpResult = { connections: st.httpConnections, servers: [], runs: [] };
  if (!ctx.tools.wrk) {
    result.skipped = `wrk is not available: ${ctx.tools.wrkProblem ?? 'not installed'}`;
    return result;
  }
  const defs = httpServers(ctx);
  const pool = new ServerPool(ctx, 'http');
  result.servers = pool.servers;
  try {
    await pool.startAll(defs, async (s, info) => {
      info.response = await checkHttpResponse(s.host, s.port);
    });
    if (!st.httpWarmupEachRun) {
      // Servers stay up for the whole suite, so one warm-up each (at the largest connection
      // count) is enough for the JIT; later rounds follow other runs on the same process. The C
      // server has no JIT to warm.
      const maxConns = Math.max(...st.httpConnections);
      for (const def of defs) {
        const s = pool.get(def);
        if (!s || def.kind === 'c') continue;
        progress.show(`[http warm-up] ${def.id}`);
        await wrk(ctx, s, maxConns, st.httpWarmup);
      }
    }
    for (let round = 1; round <= st.rounds; round++) {
      for (const conns of st.httpConnections) {
        for (const def of defs) {
          progress.nextStep(`[http ${conns}c round ${round}/${st.rounds}] ${def.id}`);
          if (!pool.available(def)) continue;
          const s = await pool.ensure(def);
          if (!s) {
            result.runs.push({ server: def.id, conns, round, ok: false, error: pool.reason(def) });
            continue;
          }
          if (st.httpWarmupEachRun) await wrk(ctx, s, conns, st.httpWarmup);
          const before = cpuSample(s.proc.pid);
          const w = await wrk(ctx, s, conns, st.httpDuration);
          const after = cpuSample(s.proc.pid);
          writeFileSync(path.join(ctx.rawDir, `http-${conns}c-r${round}-${def.id}.txt`), w.out);
          const parsed = w.error ? null : parseWrk(w.out);
          const cpu = cpuDelta(before, after);
          if (!parsed || !cpu) {
            result.runs.push({ server: def.id, conns, round, ok: false, error: w.error ?? (cpu ? 'could not parse wrk output' : 'server exited during the run') });
            continue;
          }
          result.runs.push({
            server: def.id,
            conns,
            round,
            ok: true,
            requests: parsed.requests,
            rps: parsed.rps,
            wrkSeconds: parsed.seconds,
            cpuS: cpu.cpuS,
            wallS: cpu.wallS,
            cpuShare: cpu.cpuS / cpu.wallS,
            cpuUsPerReq: (cpu.cpuS * 1e6) / parsed.requests,
            reqPerCpuS: parsed.requests / cpu.cpuS,
            latencyUs: parsed.latencyUs,
            socketErrors: parsed.socketErrors,
            non2xx: parsed.non2xx,
          });
        }
      }
    }
  } finally {
    await pool.stopAll();
  }
  return result;
}
