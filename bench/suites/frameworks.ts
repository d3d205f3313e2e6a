/**
 * Suite — frameworks: the same app (a plain handler, Express, Fastify, the plain handler over
 * HTTPS, a WebSocket echo with `ws`: bench/servers/framework-app.ts) served by Node's http.Server
 * on libuv and by Node's http.Server on our sockets (both drivers). wrk -t1 -c100 on the load
 * core (for the WebSocket echo: bench/c/bin/echo-client --ws, 100 connections, one 64-byte binary
 * message in flight on each), each server on the server core, interleaved round by round; the
 * figure compared is requests (messages) per server CPU-second, and the ratio ours / Node is
 * taken per round (the two ran minutes apart at most, on the same machine state), then its
 * median and spread over rounds.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { runEchoClient } from '../lib/echo-client';
import { cpuDelta, cpuSample, describeExit, runToEnd } from '../lib/proc';
import * as progress from '../lib/progress';
import { type Running, type ServerDef, type ServerInfo, ServerPool } from '../lib/servers';
import { fmtNum, ratios, summarize } from '../lib/stats';
import { parseWrk } from './http';

export const APPS = ['plain', 'express', 'fastify', 'https', 'ws'] as const;
export type App = (typeof APPS)[number];
/** Targets from issue #22: ours / Node http, requests (ws: messages) per server CPU-second, median of rounds. */
export const TARGETS: Record<App, number> = { plain: 1.4, express: 1.3, fastify: 1.25, https: 1.15, ws: 1.2 };
const CONNECTIONS = 100;

export interface FrameworkRun {
  app: App;
  server: string;
  round: number;
  ok: boolean;
  error?: string;
  /** Requests, or for ws messages echoed, in the measured window. */
  requests?: number;
  rps?: number;
  cpuS?: number;
  reqPerCpuS?: number;
  p99Us?: number;
  errors?: number;
}

export interface FrameworksResult {
  skipped?: string;
  connections: number;
  durationS: number;
  servers: (ServerInfo & { app: App })[];
  runs: FrameworkRun[];
}

const NODE = process.execPath;
const IMPLS = [
  { id: 'node', label: 'Node http', http: 'node', driver: 'standalone' },
  { id: 'ours-standalone', label: 'ours · standalone', http: 'ours', driver: 'standalone' },
  { id: 'ours-node', label: 'ours · node driver', http: 'ours', driver: 'node' },
] as const;

function defsFor(ctx: Ctx, app: App): ServerDef[] {
  const script = path.join(ctx.distBench, 'servers', 'framework-app.js');
  return IMPLS.map((impl) => ({
    id: `${app}-${impl.id}`,
    label: impl.label,
    kind: impl.http === 'ours' ? ('ours' as const) : ('node' as const),
    argv: (port: number) => [NODE, script, '--app', app, '--http', impl.http, '--driver', impl.driver, '--port', String(port), '--host', '127.0.0.1'],
    unavailable: () => null,
  }));
}

export function frameworksSteps(ctx: Ctx): number {
  return ctx.settings.rounds * APPS.length * IMPLS.length;
}

async function wrk(ctx: Ctx, s: Running, seconds: number): Promise<{ out: string; error?: string }> {
  const scheme = s.def.id.startsWith('https-') ? 'https' : 'http';
  const argv = [ctx.tools.wrk!, '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '--timeout', '5s', `${scheme}://${s.host}:${s.port}/`];
  const r = await runToEnd(argv, { name: 'wrk', cpu: ctx.clientCpu, raiseNofile: true, timeoutMs: (seconds + 30) * 1000 });
  if (r.timedOut) return { out: r.stdout, error: `wrk did not finish within ${seconds + 30} s` };
  if (r.exit.code !== 0) return { out: r.stdout, error: `wrk failed (${describeExit(r.exit)}): ${r.stderr.trim().slice(-300)}` };
  return { out: r.stdout };
}

/** The ws row's load: echo-client --ws / at 100 connections, 64-byte binary messages. */
function wsEcho(ctx: Ctx, s: Running, seconds: number, warmup: number): ReturnType<typeof runEchoClient> {
  return runEchoClient(ctx, s, { conns: CONNECTIONS, size: ctx.settings.echoSize, duration: seconds, warmup, wsPath: '/' });
}

/** One measured run of `app` against `s`: wrk, or echo-client --ws for the ws row. */
async function measure(ctx: Ctx, app: App, s: Running, server: string, round: number): Promise<FrameworkRun> {
  const st = ctx.settings;
  const raw = path.join(ctx.rawDir, `frameworks-${app}-r${round}-${server}.txt`);
  if (app === 'ws') {
    // Every run opens (and upgrades) its connections first; the window opens after a warm-up.
    const { run, raw: out } = await wsEcho(ctx, s, st.httpDuration, st.httpWarmupEachRun ? st.httpWarmup : st.echoWarmup);
    writeFileSync(raw, out);
    if (!run.ok) return { app, server, round, ok: false, error: run.error ?? 'failed' };
    return {
      app,
      server,
      round,
      ok: true,
      requests: run.messages!,
      rps: run.msgsPerS!,
      cpuS: run.cpuS!,
      reqPerCpuS: run.msgsPerCpuS!,
      p99Us: run.latencyUs!.p99,
      errors: run.clientErrors!,
    };
  }
  if (st.httpWarmupEachRun) await wrk(ctx, s, st.httpWarmup);
  const before = cpuSample(s.proc.pid);
  const w = await wrk(ctx, s, st.httpDuration);
  const after = cpuSample(s.proc.pid);
  writeFileSync(raw, w.out);
  const parsed = w.error ? null : parseWrk(w.out);
  const cpu = cpuDelta(before, after);
  if (!parsed || !cpu) {
    return { app, server, round, ok: false, error: w.error ?? (cpu ? 'could not parse wrk output' : 'server exited during the run') };
  }
  const e = parsed.socketErrors;
  return {
    app,
    server,
    round,
    ok: true,
    requests: parsed.requests,
    rps: parsed.rps,
    cpuS: cpu.cpuS,
    reqPerCpuS: parsed.requests / cpu.cpuS,
    p99Us: parsed.latencyUs.p99,
    errors: e.connect + e.read + e.write + e.timeout + parsed.non2xx,
  };
}

export async function runFrameworks(ctx: Ctx): Promise<FrameworksResult> {
  const st = ctx.settings;
  const result: FrameworksResult = { connections: CONNECTIONS, durationS: st.httpDuration, servers: [], runs: [] };
  if (!ctx.tools.wrk) {
    result.skipped = `wrk is not available: ${ctx.tools.wrkProblem ?? 'not installed'}`;
    return result;
  }
  const pools = new Map<App, { pool: ServerPool; defs: ServerDef[] }>();
  try {
    for (const app of APPS) {
      const defs = defsFor(ctx, app);
      const pool = new ServerPool(ctx, `frameworks ${app}`);
      pools.set(app, { pool, defs });
      await pool.startAll(defs);
      for (const info of pool.servers) result.servers.push({ ...info, app });
      if (!st.httpWarmupEachRun) {
        for (const def of defs) {
          const s = pool.get(def);
          progress.show(`[frameworks warm-up] ${def.id}`);
          if (s && app === 'ws') await wsEcho(ctx, s, st.httpWarmup, 0);
          else if (s) await wrk(ctx, s, st.httpWarmup);
        }
      }
    }
    for (let round = 1; round <= st.rounds; round++) {
      for (const app of APPS) {
        const { pool, defs } = pools.get(app)!;
        for (const def of defs) {
          progress.nextStep(`[frameworks ${app} round ${round}/${st.rounds}] ${def.id}`);
          const server = def.id.slice(app.length + 1);
          if (!pool.available(def)) continue;
          const s = await pool.ensure(def);
          if (!s) {
            result.runs.push({ app, server, round, ok: false, error: pool.reason(def) });
            continue;
          }
          result.runs.push(await measure(ctx, app, s, server, round));
        }
      }
    }
  } finally {
    for (const { pool } of pools.values()) await pool.stopAll();
  }
  return result;
}

/** Requests per CPU-second of `server` for `app`, round by round (undefined where a run failed). */
function perRound(r: FrameworksResult, app: App, server: string): (number | undefined)[] {
  const rounds = Math.max(0, ...r.runs.map((u) => u.round));
  return Array.from({ length: rounds }, (_, i) => r.runs.find((u) => u.app === app && u.server === server && u.round === i + 1 && u.ok)?.reqPerCpuS);
}

/** Ours / Node per round, for each app and driver: median and spread. */
export function frameworkRatios(r: FrameworksResult): { app: App; server: string; median: number; min: number; max: number; target: number }[] {
  const out: { app: App; server: string; median: number; min: number; max: number; target: number }[] = [];
  for (const app of APPS) {
    for (const server of ['ours-standalone', 'ours-node']) {
      const q = summarize(ratios(perRound(r, app, server), perRound(r, app, 'node')));
      if (q) out.push({ app, server, median: q.median, min: q.min, max: q.max, target: TARGETS[app] });
    }
  }
  return out;
}

export function frameworksMarkdown(r: FrameworksResult): string {
  const lines = ['## Frameworks: the same app on Node http and on ours', ''];
  if (r.skipped) return [...lines, `Skipped: ${r.skipped}.`, ''].join('\n');
  lines.push(
    `wrk -t1 -c${r.connections}, ${r.durationS} s per run, rounds interleaved; requests per server CPU-second, median (min–max) over rounds. ` +
      `The ws row (a WebSocket echo with \`ws\`): echo-client --ws at ${r.connections} connections, one 64-byte binary message in flight on each; messages per server CPU-second. ` +
      'Ratios are ours / Node http (https for the HTTPS row: keep-alive, the handshake once per connection), taken per round. ' +
      'Targets (issue #22): plain ≥ 1.4×, Express ≥ 1.3×, Fastify ≥ 1.25×, HTTPS ≥ 1.15×, WebSocket echo ≥ 1.2×.',
    '',
    '| app | server | requests (ws: messages) / CPU-s | per s | p99 | errors |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const app of APPS) {
    for (const s of r.servers.filter((x) => x.app === app)) {
      const server = s.id.slice(app.length + 1);
      const runs = r.runs.filter((u) => u.app === app && u.server === server && u.ok);
      const cpu = summarize(runs.map((u) => u.reqPerCpuS!));
      if (!s.available || !cpu) {
        lines.push(`| ${app} | ${s.label} | ${s.reason ?? r.runs.find((u) => u.app === app && u.server === server)?.error ?? 'failed'} | | | |`);
        continue;
      }
      const rate = summarize(runs.map((u) => u.rps!))!;
      const p99 = summarize(runs.map((u) => u.p99Us!))!;
      const errors = runs.reduce((a, u) => a + (u.errors ?? 0), 0);
      lines.push(`| ${app} | ${s.label} | ${fmtNum(cpu.median)} (${fmtNum(cpu.min)}–${fmtNum(cpu.max)}) | ${fmtNum(rate.median)} | ${fmtNum(p99.median / 1000, 2)} ms | ${errors} |`);
    }
  }
  lines.push('');
  for (const q of frameworkRatios(r)) {
    lines.push(`- ${q.app}, ${q.server}: ${q.median.toFixed(2)}× Node ${q.app === 'https' ? 'https' : 'http'} (${q.min.toFixed(2)}–${q.max.toFixed(2)}); target ${q.target}×: ${q.median >= q.target ? 'met' : 'missed'}`);
  }
  lines.push('');
  return lines.join('\n');
}
