/**
 * Suite 2 — TCP echo, 64-byte messages, closed loop (one message in flight per connection),
 * at 1, 100 and 1,000 connections: bench/c/bin/echo-client (load core) against each echo server
 * (server core), interleaved round by round. echo-client --phases marks the start and end of its
 * measurement window on stderr; the server's CPU time is sampled at exactly those two instants.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { type CpuSample, cpuDelta, cpuSample, describeExit, spawnProc } from '../lib/proc';
import * as progress from '../lib/progress';
import { echoServers, type Running, type ServerDef, type ServerInfo, ServerPool } from '../lib/servers';

export interface EchoRun {
  server: string;
  conns: number;
  round: number;
  ok: boolean;
  error?: string;
  messages?: number;
  msgsPerS?: number;
  cpuS?: number;
  wallS?: number;
  cpuShare?: number;
  cpuUsPerMsg?: number;
  msgsPerCpuS?: number;
  latencyUs?: { p50: number; p90: number; p99: number; max: number };
  clientErrors?: number;
}

export interface EchoResult {
  connections: number[];
  size: number;
  servers: ServerInfo[];
  runs: EchoRun[];
}

/** Whether `def` is measured at `conns` connections (the pipe rows: only at 100). */
function measuredAt(def: ServerDef, conns: number): boolean {
  return def.connections === undefined || def.connections.includes(conns);
}

export function echoSteps(ctx: Ctx): number {
  let n = 0;
  for (const conns of ctx.settings.echoConnections) n += echoServers(ctx).filter((d) => measuredAt(d, conns)).length;
  return ctx.settings.rounds * n;
}

interface ClientOutput {
  messages: number;
  msgs_per_s: number;
  duration_s: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  errors: number;
}

async function measure(ctx: Ctx, s: Running, conns: number): Promise<{ run: Partial<EchoRun>; raw: string }> {
  const st = ctx.settings;
  const argv = [
    path.join(ctx.cbin, 'echo-client'),
    '--host',
    s.host,
    '--port',
    String(s.port),
    '--connections',
    String(conns),
    '--size',
    String(st.echoSize),
    '--duration',
    String(st.echoDuration),
    '--warmup',
    String(st.echoWarmup),
    '--json',
    '--phases',
  ];
  const client = spawnProc(argv, { name: 'echo-client', cpu: ctx.clientCpu, raiseNofile: true });
  let before: CpuSample | null = null;
  let after: CpuSample | null = null;
  client.onStderrLine = (line) => {
    if (line === 'phase: measure') before = cpuSample(s.proc.pid);
    else if (line === 'phase: done') after = cpuSample(s.proc.pid);
  };
  const limit = (st.echoDuration + st.echoWarmup + 40) * 1000;
  const timer = setTimeout(() => void client.stop('SIGKILL', 0), limit);
  const exit = await client.exited;
  clearTimeout(timer);
  const raw = `${client.stdoutText}\n--- stderr ---\n${client.stderrTail}`;
  const line = client.stdoutLines.find((l) => l.startsWith('{'));
  if (exit.code !== 0 || !line) {
    return { run: { ok: false, error: `echo-client failed (${describeExit(exit)})${client.describeOutput()}` }, raw };
  }
  const out = JSON.parse(line) as ClientOutput;
  const cpu = cpuDelta(before, after);
  if (!cpu) return { run: { ok: false, error: 'no CPU sample (server gone, or the client never reached its window)' }, raw };
  if (out.messages === 0) return { run: { ok: false, error: `no message completed (${out.errors} errors)${client.describeOutput()}` }, raw };
  return {
    run: {
      ok: true,
      messages: out.messages,
      msgsPerS: out.msgs_per_s,
      cpuS: cpu.cpuS,
      wallS: cpu.wallS,
      cpuShare: cpu.cpuS / cpu.wallS,
      cpuUsPerMsg: (cpu.cpuS * 1e6) / out.messages,
      msgsPerCpuS: out.messages / cpu.cpuS,
      latencyUs: { p50: out.p50_us, p90: out.p90_us, p99: out.p99_us, max: out.max_us },
      clientErrors: out.errors,
    },
    raw,
  };
}

export async function runEcho(ctx: Ctx): Promise<EchoResult> {
  const st = ctx.settings;
  const result: EchoResult = { connections: st.echoConnections, size: st.echoSize, servers: [], runs: [] };
  const defs = echoServers(ctx);
  const pool = new ServerPool(ctx, 'echo');
  result.servers = pool.servers;
  try {
    await pool.startAll(defs);
    for (let round = 1; round <= st.rounds; round++) {
      for (const conns of st.echoConnections) {
        for (const def of defs) {
          if (!measuredAt(def, conns)) continue;
          progress.nextStep(`[echo ${conns}c round ${round}/${st.rounds}] ${def.id}`);
          if (!pool.available(def)) continue;
          const s = await pool.ensure(def);
          if (!s) {
            result.runs.push({ server: def.id, conns, round, ok: false, error: pool.reason(def) });
            continue;
          }
          const { run, raw } = await measure(ctx, s, conns);
          writeFileSync(path.join(ctx.rawDir, `echo-${conns}c-r${round}-${def.id}.txt`), raw);
          result.runs.push({ server: def.id, conns, round, ok: false, ...run });
        }
      }
    }
  } finally {
    await pool.stopAll();
  }
  return result;
}
