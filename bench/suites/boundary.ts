/**
 * Suite 5 — boundary cost: the in-process microbenchmarks of children/boundary.ts (ns per native
 * call, per loop iteration, per delivered event, per attached turn, and the always-on stats),
 * one child per round on the server core; the report shows the median and min–max over rounds.
 */
import * as path from 'node:path';
import type { Ctx } from '../lib/context';
import { describeExit, runToEnd } from '../lib/proc';
import * as progress from '../lib/progress';

export interface BoundaryRow {
  id: string;
  label: string;
  ns: number;
  events?: number;
}

export interface BoundaryRun {
  round: number;
  ok: boolean;
  error?: string;
  rows?: BoundaryRow[];
}

export interface BoundaryResult {
  runs: BoundaryRun[];
}

export function boundarySteps(ctx: Ctx): number {
  return ctx.settings.boundaryRounds;
}

export async function runBoundary(ctx: Ctx): Promise<BoundaryResult> {
  const st = ctx.settings;
  const script = path.join(ctx.distBench, 'children', 'boundary.js');
  const result: BoundaryResult = { runs: [] };
  for (let round = 1; round <= st.boundaryRounds; round++) {
    progress.nextStep(`[boundary round ${round}/${st.boundaryRounds}] microbenchmarks`);
    const r = await runToEnd([process.execPath, script, '--sample-ms', String(st.boundarySampleMs), '--samples', String(st.boundarySamples)], {
      name: 'boundary',
      cpu: ctx.serverCpu,
      timeoutMs: 180_000,
      cwd: ctx.root,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    if (r.timedOut || r.exit.code !== 0 || !line) {
      const err = r.stderr.trim().split('\n');
      const missing = err.find((l) => /Cannot find module|addon/i.test(l));
      result.runs.push({
        round,
        ok: false,
        error: missing ? `not available yet (${missing.trim().slice(0, 200)})` : `${r.timedOut ? 'timed out' : describeExit(r.exit)}: ${err.slice(0, 4).join(' | ').slice(0, 400)}`,
      });
      continue;
    }
    const o = JSON.parse(line) as { rows: BoundaryRow[] };
    result.runs.push({ round, ok: true, rows: o.rows });
  }
  return result;
}
