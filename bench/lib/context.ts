/**
 * What every suite gets from the runner: paths, the mode's settings, the tools found in setup,
 * and the CPU placement (servers on one core, load generators on the other).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export type SuiteName = 'http' | 'echo' | 'timers' | 'idle' | 'boundary' | 'udp' | 'frameworks' | 'workers';
export const SUITES: SuiteName[] = ['http', 'echo', 'timers', 'idle', 'boundary', 'udp', 'frameworks', 'workers'];

export interface Settings {
  mode: 'quick' | 'full';
  rounds: number;
  /** Measured seconds per HTTP run (wrk takes whole seconds). */
  httpDuration: number;
  /** Warm-up seconds before each HTTP run (full), or once per server (quick). */
  httpWarmup: number;
  /** Warm-up before every HTTP run, or only once per server at the start of the suite. */
  httpWarmupEachRun: boolean;
  httpConnections: number[];
  echoDuration: number;
  echoWarmup: number;
  echoConnections: number[];
  echoSize: number;
  timerCount: number;
  sparseTimerCount: number;
  timerRounds: number;
  /** The chained timer workload: firings recorded per run, and rounds. */
  chainFirings: number;
  chainRounds: number;
  idleConnections: number;
  idleWindow: number;
  idleRounds: number;
  boundaryRounds: number;
  boundarySampleMs: number;
  boundarySamples: number;
  /** The workers suite: measured seconds per wrk run (whole seconds), and the warm-up once per server. */
  workersDuration: number;
  workersWarmup: number;
}

export interface Tools {
  taskset: boolean;
  wrk: string | null;
  wrkVersion: string;
  wrkProblem: string | null;
  strace: boolean;
  straceProblem: string | null;
  /** The libuv the uv-* C programs were built against ("libuv 1.44.2"), or null. */
  libuv: string | null;
  libuvProblem: string | null;
}

export interface Ctx {
  /** Repository root. */
  root: string;
  /** Compiled bench directory (dist/bench). */
  distBench: string;
  /** Compiled examples (dist/examples), where our servers live. */
  distExamples: string;
  /** bench/c/bin */
  cbin: string;
  /** Where raw outputs go (git-ignored). */
  rawDir: string;
  settings: Settings;
  tools: Tools;
  /** CPU for servers and the measured child processes. */
  serverCpu: number;
  /** CPU for load generators (and this runner). */
  clientCpu: number;
  /** Testing the harness itself: the Node net servers stand in for our (missing) examples. */
  standinOurs: boolean;
}

export function paths(): { root: string; distBench: string; distExamples: string; cbin: string } {
  // This file is dist/bench/lib/context.js once compiled.
  const distBench = path.resolve(__dirname, '..');
  const root = path.resolve(distBench, '..', '..');
  // BENCH_EXAMPLES_DIR: measure another build of our example servers (or none, to check the
  // "not available yet" path).
  const distExamples = process.env.BENCH_EXAMPLES_DIR ? path.resolve(process.env.BENCH_EXAMPLES_DIR) : path.join(root, 'dist', 'examples');
  return { root, distBench, distExamples, cbin: path.join(root, 'bench', 'c', 'bin') };
}

export function exists(p: string): boolean {
  return existsSync(p);
}
