/**
 * Suite 2 — TCP echo, 64-byte messages, closed loop (one message in flight per connection),
 * at 1, 100 and 1,000 connections: bench/c/bin/echo-client (load core) against each echo server
 * (server core), interleaved round by round. echo-client --phases marks the start and end of its
 * measurement window on stderr; the server's CPU time is sampled at exactly those two instants
 * (bench/lib/echo-client.ts).
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { type EchoClientRun, runEchoClient } from '../lib/echo-client';
import * as progress from '../lib/progress';
import { echoServers, type ServerDef, type ServerInfo, ServerPool } from '../lib/servers';

export interface EchoRun extends EchoClientRun {
  server: string;
  conns: number;
  round: number;
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
          const { run, raw } = await runEchoClient(ctx, s, { conns, size: st.echoSize, duration: st.echoDuration, warmup: st.echoWarmup });
          writeFileSync(path.join(ctx.rawDir, `echo-${conns}c-r${round}-${def.id}.txt`), raw);
          result.runs.push({ server: def.id, conns, round, ...run });
        }
      }
    }
  } finally {
    await pool.stopAll();
  }
  return result;
}
