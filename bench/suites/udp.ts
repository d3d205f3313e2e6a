/**
 * Suite — UDP echo, 64-byte datagrams: bench/c/bin/udp-echo-client (load core) against our
 * examples/udp-echo (both drivers), Node's dgram, and a C recvmmsg/sendmmsg server (server core),
 * interleaved round by round. Closed loop: each client socket keeps a window of datagrams in
 * flight, and every echo releases the next. The figure compared is echoes per server CPU-second
 * (the client keeps its own core busy; servers are not CPU-bound at this load), sampled over
 * exactly the client's measurement window (--phases).
 *
 * Two loads: 1 socket × 1 datagram in flight (every wake-up finds one datagram: per-message
 * overhead, no batching to hide it) and 8 sockets × 16 in flight (wake-ups find several: what
 * recvmmsg and the iteration's single sendmmsg are for).
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { type CpuSample, cpuDelta, cpuSample, describeExit, spawnProc } from '../lib/proc';
import * as progress from '../lib/progress';
import { type Running, type ServerDef, type ServerInfo, ServerPool } from '../lib/servers';
import { ratios, summarize } from '../lib/stats';

export interface UdpLoad {
  name: string;
  sockets: number;
  window: number;
}

export interface UdpRun {
  server: string;
  load: string;
  round: number;
  ok: boolean;
  error?: string;
  messages?: number;
  msgsPerS?: number;
  cpuS?: number;
  msgsPerCpuS?: number;
  latencyUs?: { p50: number; p99: number };
  lost?: number;
  errors?: number;
}

export interface UdpResult {
  size: number;
  loads: UdpLoad[];
  durationS: number;
  servers: ServerInfo[];
  runs: UdpRun[];
}

const LOADS: UdpLoad[] = [
  { name: '1×1', sockets: 1, window: 1 },
  { name: '8×16', sockets: 8, window: 16 },
];
const SIZE = 64;

const NODE = process.execPath;

function udpServers(ctx: Ctx): ServerDef[] {
  const exists = (f: string): string | null => (existsSync(f) ? null : `${path.relative(ctx.root, f)} missing (npm run build:ts / bench/c/build.sh)`);
  const ours = (driver: string): ServerDef => {
    const script = path.join(ctx.distExamples, 'udp-echo.js');
    return {
      id: `ours-${driver}`,
      label: `ours · ${driver === 'node' ? 'node driver' : driver}`,
      kind: 'ours',
      argv: (port) => [NODE, script, '--port', String(port), '--host', '127.0.0.1', '--driver', driver],
      unavailable: () => exists(script),
    };
  };
  const nodeScript = path.join(ctx.distBench, 'servers', 'node-dgram-echo.js');
  const cExe = path.join(ctx.cbin, 'udp-echo-server');
  return [
    ours('standalone'),
    ours('node'),
    {
      id: 'node-dgram',
      label: 'Node dgram',
      kind: 'node',
      argv: (port) => [NODE, nodeScript, '--port', String(port), '--host', '127.0.0.1'],
      unavailable: () => exists(nodeScript),
    },
    { id: 'c', label: 'C recvmmsg/sendmmsg', kind: 'c', argv: (port) => [cExe, '--port', String(port)], unavailable: () => exists(cExe) },
    {
      id: 'c-mt',
      label: 'C + idle thread',
      kind: 'c',
      argv: (port) => [cExe, '--port', String(port), '--idle-thread'],
      unavailable: () => exists(cExe),
    },
  ];
}

/** Measured and warm-up seconds per run: a quick run still needs enough CPU ticks to compare. */
function timing(ctx: Ctx): { duration: number; warmup: number } {
  const st = ctx.settings;
  return st.mode === 'quick' ? { duration: 1.5, warmup: 0.5 } : { duration: st.echoDuration, warmup: st.echoWarmup };
}

export function udpSteps(ctx: Ctx): number {
  return ctx.settings.rounds * LOADS.length * udpServers(ctx).length;
}

async function measure(ctx: Ctx, s: Running, load: UdpLoad): Promise<{ run: Partial<UdpRun>; raw: string }> {
  const { duration, warmup } = timing(ctx);
  const argv = [
    path.join(ctx.cbin, 'udp-echo-client'),
    ...['--host', s.host, '--port', String(s.port)],
    ...['--sockets', String(load.sockets), '--window', String(load.window), '--size', String(SIZE)],
    ...['--duration', String(duration), '--warmup', String(warmup), '--json', '--phases'],
  ];
  const client = spawnProc(argv, { name: 'udp-echo-client', cpu: ctx.clientCpu });
  let before: CpuSample | null = null;
  let after: CpuSample | null = null;
  client.onStderrLine = (line) => {
    if (line === 'phase: measure') before = cpuSample(s.proc.pid);
    else if (line === 'phase: done') after = cpuSample(s.proc.pid);
  };
  const timer = setTimeout(() => void client.stop('SIGKILL', 0), (duration + warmup + 30) * 1000);
  const exit = await client.exited;
  clearTimeout(timer);
  const raw = `${client.stdoutText}\n--- stderr ---\n${client.stderrTail}`;
  const line = client.stdoutLines.find((l) => l.startsWith('{'));
  if (exit.code !== 0 || !line) return { run: { ok: false, error: `udp-echo-client failed (${describeExit(exit)})${client.describeOutput()}` }, raw };
  const out = JSON.parse(line) as { messages: number; msgs_per_s: number; p50_us: number; p99_us: number; lost: number; errors: number };
  const cpu = cpuDelta(before, after);
  if (!cpu || cpu.cpuS <= 0) return { run: { ok: false, error: 'no CPU sample (server gone?)' }, raw };
  return {
    run: {
      ok: out.errors === 0,
      ...(out.errors > 0 ? { error: `${out.errors} wrong echoes` } : {}),
      messages: out.messages,
      msgsPerS: out.msgs_per_s,
      cpuS: cpu.cpuS,
      msgsPerCpuS: out.messages / cpu.cpuS,
      latencyUs: { p50: out.p50_us, p99: out.p99_us },
      lost: out.lost,
      errors: out.errors,
    },
    raw,
  };
}

export async function runUdp(ctx: Ctx): Promise<UdpResult> {
  const st = ctx.settings;
  const defs = udpServers(ctx);
  const pool = new ServerPool(ctx, 'udp');
  const result: UdpResult = { size: SIZE, loads: LOADS, durationS: timing(ctx).duration, servers: pool.servers, runs: [] };
  try {
    await pool.startAll(defs);
    for (let round = 1; round <= st.rounds; round++) {
      for (const load of LOADS) {
        for (const def of defs) {
          progress.nextStep(`[udp ${load.name} round ${round}/${st.rounds}] ${def.id}`);
          if (!pool.available(def)) continue;
          const s = await pool.ensure(def);
          if (!s) {
            result.runs.push({ server: def.id, load: load.name, round, ok: false, error: pool.reason(def) });
            continue;
          }
          const { run, raw } = await measure(ctx, s, load);
          writeFileSync(path.join(ctx.rawDir, `udp-${load.sockets}x${load.window}-r${round}-${def.id}.txt`), raw);
          result.runs.push({ server: def.id, load: load.name, round, ok: false, ...run });
        }
      }
    }
  } finally {
    await pool.stopAll();
  }
  return result;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const x = (n: number): string => `${n.toFixed(2)}×`;

/** The suite's section of the report: echoes per server CPU-second, and the ratios the targets name. */
export function udpMarkdown(r: UdpResult): string {
  const lines = [
    '## UDP echo',
    '',
    `${r.size}-byte datagrams, closed loop (sockets × datagrams in flight), ${r.durationS} s per run, rounds interleaved; ` +
      'echoes per server CPU-second, median (min–max) over rounds. Targets: ours ≥ 2× Node dgram, ≥ 0.9× C.',
    '',
  ];
  const perRound = (server: string, load: string): (number | undefined)[] => {
    const rounds = Math.max(0, ...r.runs.map((u) => u.round));
    return Array.from({ length: rounds }, (_, i) => r.runs.find((u) => u.server === server && u.load === load && u.round === i + 1 && u.ok)?.msgsPerCpuS);
  };
  for (const load of r.loads) {
    lines.push(`### ${load.name} (${load.sockets} socket${load.sockets > 1 ? 's' : ''} × ${load.window} in flight)`, '');
    lines.push('| server | echoes / CPU-s | echoes / s | p50 µs | p99 µs | lost |', '| --- | --- | --- | --- | --- | --- |');
    for (const s of r.servers) {
      const runs = r.runs.filter((u) => u.server === s.id && u.load === load.name && u.ok);
      const cpu = summarize(runs.map((u) => u.msgsPerCpuS!));
      if (!s.available || !cpu) {
        lines.push(`| ${s.label} | ${s.reason ?? r.runs.find((u) => u.server === s.id && u.load === load.name)?.error ?? 'failed'} | | | | |`);
        continue;
      }
      const rate = summarize(runs.map((u) => u.msgsPerS!))!;
      const p50 = summarize(runs.map((u) => u.latencyUs!.p50))!;
      const p99 = summarize(runs.map((u) => u.latencyUs!.p99))!;
      const lost = runs.reduce((a, u) => a + (u.lost ?? 0), 0);
      lines.push(`| ${s.label} | ${fmt(cpu.median)} (${fmt(cpu.min)}–${fmt(cpu.max)}) | ${fmt(rate.median)} | ${p50.median.toFixed(0)} | ${p99.median.toFixed(0)} | ${lost} |`);
    }
    lines.push('');
    for (const ours of ['ours-standalone', 'ours-node']) {
      const parts: string[] = [];
      for (const [base, target] of [
        ['node-dgram', 2],
        ['c', 0.9],
        ['c-mt', 0.9],
      ] as const) {
        const q = summarize(ratios(perRound(ours, load.name), perRound(base, load.name)));
        if (q) parts.push(`${x(q.median)} ${base} (${x(q.min)}–${x(q.max)}${base === 'c-mt' ? '' : `; target ${target}×: ${q.median >= target ? 'met' : 'missed'}`})`);
      }
      if (parts.length > 0) lines.push(`- ${ours}: ${parts.join(', ')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
