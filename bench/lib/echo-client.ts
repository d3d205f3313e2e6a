/**
 * One run of bench/c/bin/echo-client (on the load core) against a running server, with the
 * server's CPU time sampled over exactly the client's measurement window: echo-client --phases
 * prints "phase: measure" and "phase: done" on stderr at its start and end. Used by the echo
 * suite (plain TCP echo) and the frameworks suite (WebSocket echo, `--ws PATH`).
 */
import * as path from 'node:path';
import type { Ctx } from './context';
import { type CpuSample, cpuDelta, cpuSample, describeExit, spawnProc } from './proc';
import type { Running } from './servers';

export interface EchoClientOptions {
  conns: number;
  size: number;
  /** Measured seconds. */
  duration: number;
  /** Seconds run before the window, after every connection is up (and upgraded). */
  warmup: number;
  /** WebSocket mode: the path of the Upgrade request (echo-client --ws). */
  wsPath?: string;
}

/** What one run measured; `ok: false` with `error` when it measured nothing. */
export interface EchoClientRun {
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

/** Runs echo-client against `s`; resolves with the run and its raw output (stdout and stderr's tail). */
export async function runEchoClient(ctx: Ctx, s: Running, o: EchoClientOptions): Promise<{ run: EchoClientRun; raw: string }> {
  const argv = [
    path.join(ctx.cbin, 'echo-client'),
    '--host',
    s.host,
    '--port',
    String(s.port),
    '--connections',
    String(o.conns),
    '--size',
    String(o.size),
    '--duration',
    String(o.duration),
    '--warmup',
    String(o.warmup),
    ...(o.wsPath !== undefined ? ['--ws', o.wsPath] : []),
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
  const limit = (o.duration + o.warmup + 40) * 1000;
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
