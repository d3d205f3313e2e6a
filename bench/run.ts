/**
 * The benchmark runner: `npm run bench [-- options]` (= build:ts, then node dist/bench/run.js).
 *
 *   --quick              short runs, about 6 minutes (default: full, ~50 minutes)
 *   --only a,b           suites to run: http, echo, timers, idle, boundary, udp, frameworks, workers (default: all)
 *   --rounds N           rounds per measurement (interleaved A B C A B C …; default 3)
 *   --duration S         measured seconds per HTTP, echo and workers run (wrk rounds up to whole seconds)
 *   --save               write the report into the tracked bench/results/ (alias: --update-docs)
 *   --render FILE        only re-render the report and charts from a saved latest.json
 *   --standin-ours       harness self-test: run the Node net servers in our rows (clearly marked)
 *
 * Servers (and the measured timer/boundary children) run on CPU 1, load generators and this
 * runner on CPU 0. Results: latest.md, latest.json and *.svg in bench/out/ (git-ignored), or in
 * bench/results/ (tracked; the docs link it) with --save; raw tool output always in
 * bench/out/raw/. docs/benchmarks.md explains the method and how to read it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Ctx, paths, SUITES, type Settings, type SuiteName } from './lib/context';
import { killAllSync, liveCount, stopAll } from './lib/proc';
import * as progress from './lib/progress';
import { type Meta, type Results, render } from './lib/report';
import { buildC, ensureLibuv, findTools, pinSelf } from './lib/setup';
import { boundarySteps, runBoundary } from './suites/boundary';
import { echoSteps, runEcho } from './suites/echo';
import { type FrameworksResult, frameworksMarkdown, frameworksSteps, runFrameworks } from './suites/frameworks';
import { httpSteps, runHttp } from './suites/http';
import { idleSteps, runIdle } from './suites/idle';
import { runTimers, timerSteps } from './suites/timers';
import { runUdp, type UdpResult, udpMarkdown, udpSteps } from './suites/udp';
import { runWorkers, type WorkersResult, workersMarkdown, workersSteps } from './suites/workers';

const USAGE = `usage: npm run bench -- [--quick] [--only http,echo,timers,idle,boundary,udp,frameworks,workers] [--rounds N] [--duration S] [--save | --out DIR] [--standin-ours] [--render latest.json]

  --quick         short runs of every suite: about 6 minutes (a full run: about 50)
  --only LIST     suites to run (default: all)
  --rounds N      rounds per measurement, interleaved (default 3)
  --duration S    measured seconds per HTTP, echo and workers run
  --save          write the report to bench/results/ (tracked, linked from docs/benchmarks.md);
                  --update-docs is the same. Without it the report goes to bench/out/ (git-ignored)
  --out DIR       write the report to DIR instead
  --render FILE   no measuring: re-render the report and charts from a saved latest.json
  --standin-ours  harness self-test: the Node net servers run in the rows of ours (marked)

Raw tool output (wrk, echo-client) always goes to bench/out/raw/.`;

/** Where a run writes unless told to save: git-ignored, so that no command changes tracked files. */
const OUT_DIR = path.join('bench', 'out');
/** The tracked report, written only with --save. */
const SAVED_DIR = path.join('bench', 'results');

interface Cli {
  quick: boolean;
  only: SuiteName[];
  rounds: number | null;
  duration: number | null;
  save: boolean;
  standinOurs: boolean;
  render: string | null;
  out: string | null;
}

function parseCli(argv: string[]): Cli {
  const cli: Cli = { quick: false, only: [...SUITES], rounds: null, duration: null, save: false, standinOurs: false, render: null, out: null };
  const fail = (msg: string): never => {
    console.error(`${msg}\n${USAGE}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    switch (flag) {
      case '--quick':
        cli.quick = true;
        break;
      case '--only': {
        const list = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const s of list) if (!SUITES.includes(s as SuiteName)) fail(`unknown suite "${s}"`);
        cli.only = SUITES.filter((s) => list.includes(s));
        break;
      }
      case '--rounds': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) fail('--rounds must be a positive integer');
        cli.rounds = n;
        break;
      }
      case '--duration': {
        const n = Number(value());
        if (!(n > 0)) fail('--duration must be a positive number of seconds');
        cli.duration = n;
        break;
      }
      case '--save':
      case '--update-docs':
        cli.save = true;
        break;
      case '--standin-ours':
        cli.standinOurs = true;
        break;
      case '--render':
        cli.render = value();
        break;
      case '--out':
        cli.out = value();
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option ${a}`);
    }
  }
  if (cli.save && cli.out !== null) fail('--save and --out name two different places: give one');
  return cli;
}

function settingsFor(cli: Cli): Settings {
  const quick = cli.quick;
  const rounds = cli.rounds ?? 3;
  const s: Settings = quick
    ? {
        mode: 'quick',
        rounds,
        httpDuration: 1,
        httpWarmup: 1,
        httpWarmupEachRun: false,
        httpConnections: [100, 1000],
        echoDuration: 0.4,
        echoWarmup: 0.2,
        echoConnections: [1, 100, 1000],
        echoSize: 64,
        timerCount: 100_000,
        sparseTimerCount: 2000,
        timerRounds: cli.rounds ?? 2,
        chainFirings: 5000,
        chainRounds: cli.rounds ?? 1,
        idleConnections: 10_000,
        idleWindow: 2,
        idleRounds: cli.rounds ?? 1,
        boundaryRounds: rounds,
        boundarySampleMs: 20,
        boundarySamples: 5,
        workersDuration: 1,
        workersWarmup: 1,
      }
    : {
        mode: 'full',
        rounds,
        httpDuration: 10,
        httpWarmup: 2,
        httpWarmupEachRun: true,
        httpConnections: [100, 1000],
        echoDuration: 10,
        echoWarmup: 2,
        echoConnections: [1, 100, 1000],
        echoSize: 64,
        timerCount: 100_000,
        sparseTimerCount: 2000,
        timerRounds: Math.max(rounds, 5),
        chainFirings: 5000,
        chainRounds: rounds,
        idleConnections: 10_000,
        idleWindow: 10,
        idleRounds: rounds,
        boundaryRounds: rounds,
        boundarySampleMs: 100,
        boundarySamples: 9,
        workersDuration: 5,
        workersWarmup: 2,
      };
  if (cli.duration !== null) {
    s.httpDuration = Math.max(1, Math.round(cli.duration));
    s.echoDuration = cli.duration;
    s.workersDuration = s.httpDuration;
  }
  return s;
}

function settingsText(s: Settings, only: SuiteName[]): string {
  const parts: string[] = [`${s.rounds} rounds, interleaved`];
  if (only.includes('http')) parts.push(`HTTP ${s.httpDuration} s per run (warm-up ${s.httpWarmup} s ${s.httpWarmupEachRun ? 'before each run' : 'once per server'})`);
  if (only.includes('echo')) parts.push(`echo ${s.echoDuration} s per run (+${s.echoWarmup} s warm-up)`);
  if (only.includes('timers')) {
    parts.push(`timers ${s.timerCount.toLocaleString('en-US')} + ${s.sparseTimerCount.toLocaleString('en-US')} × ${s.timerRounds} rounds, chained ${s.chainFirings.toLocaleString('en-US')} firings × ${s.chainRounds} round${s.chainRounds === 1 ? '' : 's'} pinned and unpinned`);
  }
  if (only.includes('idle')) parts.push(`idle ${s.idleConnections.toLocaleString('en-US')} conns, ${s.idleWindow} s window × ${s.idleRounds} round${s.idleRounds === 1 ? '' : 's'}`);
  if (only.includes('udp')) parts.push(`udp ${s.mode === 'quick' ? 1.5 : s.echoDuration} s per run`);
  if (only.includes('frameworks')) parts.push(`frameworks: plain, Express, Fastify, HTTPS, WebSocket echo at 100 connections, ${s.httpDuration} s per run`);
  if (only.includes('workers')) parts.push(`workers ${s.workersDuration} s per run (warm-up ${s.workersWarmup} s once per server)`);
  if (only.includes('boundary')) parts.push(`boundary ${s.boundaryRounds} rounds × ${s.boundarySamples} samples of ${s.boundarySampleMs} ms`);
  return parts.join('; ');
}

function sh(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function machine(): string {
  let model = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1]!.trim();
  } catch {
    // keep os.cpus()
  }
  const mem = Math.round(os.totalmem() / 2 ** 30);
  return `${model}, ${os.cpus().length} CPUs, ${mem} GiB, Linux ${os.release()}`;
}

function commit(root: string): string {
  // Read-only git queries; the runner never changes the repository.
  const head = sh('git', ['rev-parse', '--short', 'HEAD'], root);
  if (!head) return 'unknown (not a git checkout)';
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no'], root);
  return dirty ? `${head} (with uncommitted changes)` : head;
}

/** Write latest.md, latest.json and the charts; returns the chart names. */
type AllResults = Results & { udp?: UdpResult; frameworks?: FrameworksResult; workers?: WorkersResult };

function writeResults(resultsDir: string, extra: Record<string, unknown>, results: AllResults): { names: string[] } {
  mkdirSync(resultsDir, { recursive: true });
  const rendered = render(results);
  const charts = rendered.charts;
  let markdown = results.udp ? `${rendered.markdown.trimEnd()}\n\n${udpMarkdown(results.udp)}` : rendered.markdown;
  if (results.frameworks) markdown = `${markdown.trimEnd()}\n\n${frameworksMarkdown(results.frameworks)}`;
  if (results.workers) markdown = `${markdown.trimEnd()}\n\n${workersMarkdown(results.workers)}`;
  writeFileSync(path.join(resultsDir, 'latest.md'), markdown);
  writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify({ ...extra, ...results }, null, 1)}\n`);
  for (const [name, svg] of charts) writeFileSync(path.join(resultsDir, name), svg);
  return { names: [...charts.keys()] };
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const settings = settingsFor(cli);
  const p = paths();
  const resultsDir = cli.out !== null ? path.resolve(cli.out) : path.join(p.root, cli.save ? SAVED_DIR : OUT_DIR);
  if (cli.render !== null) {
    const saved = JSON.parse(readFileSync(cli.render, 'utf8')) as AllResults & { settings: Settings; tools: unknown };
    const { settings: s, tools: t, ...results } = saved;
    const { names } = writeResults(resultsDir, { settings: s, tools: t }, results);
    console.log(`bench: re-rendered latest.md and ${names.length} charts from ${cli.render} into ${path.relative(process.cwd(), resultsDir) || '.'}`);
    return;
  }
  const rawDir = path.join(p.root, OUT_DIR, 'raw');
  mkdirSync(rawDir, { recursive: true });
  const loadBefore = os.loadavg()[0]!.toFixed(2);

  const needsC = cli.only.some((s) => s === 'http' || s === 'echo' || s === 'timers' || s === 'idle' || s === 'udp');
  progress.show('[setup] libuv headers for the C programs on libuv');
  const libuv = needsC ? ensureLibuv() : { version: null, problem: 'not needed' };
  progress.show('[setup] building the C programs');
  if (needsC) buildC(p.root);
  progress.show('[setup] looking for wrk, strace, taskset');
  const tools = { ...findTools({ wrk: cli.only.includes('http') || cli.only.includes('frameworks') || cli.only.includes('workers'), strace: cli.only.includes('idle') }), libuv: libuv.version, libuvProblem: libuv.problem };
  if (needsC && !libuv.version) progress.log(`setup: libuv unavailable — the libuv C rows will be skipped (${libuv.problem})`);
  const cpus = os.cpus().length;
  const ctx: Ctx = {
    ...p,
    rawDir,
    settings,
    tools,
    serverCpu: cpus > 1 ? 1 : 0,
    clientCpu: 0,
    standinOurs: cli.standinOurs,
  };
  pinSelf(ctx.clientCpu);

  const notes: string[] = [];
  if (cli.standinOurs) notes.push('**HARNESS SELF-TEST**: the rows labelled "ours" are the Node net servers standing in (`--standin-ours`). These are not measurements of epoll-reactor.');
  if (!tools.taskset) notes.push('taskset was not available: processes were not pinned, so servers and load generators competed for both cores.');
  if (cpus < 2) notes.push('Only one CPU: server and load generator share it.');
  if (Number(loadBefore) > 0.5) notes.push(`The 1-minute load average was ${loadBefore} when the run started: other processes were busy on this ${cpus}-core machine, so expect wider min–max spreads.`);

  progress.planSteps(
    (cli.only.includes('http') ? httpSteps(ctx) : 0) +
      (cli.only.includes('echo') ? echoSteps(ctx) : 0) +
      (cli.only.includes('timers') ? timerSteps(ctx) : 0) +
      (cli.only.includes('idle') ? idleSteps(ctx) : 0) +
      (cli.only.includes('boundary') ? boundarySteps(ctx) : 0) +
      (cli.only.includes('udp') ? udpSteps(ctx) : 0) +
      (cli.only.includes('frameworks') ? frameworksSteps(ctx) : 0) +
      (cli.only.includes('workers') ? workersSteps(ctx) : 0),
  );

  const results: AllResults = { meta: {} as Meta };
  const suiteSeconds: Record<string, number> = {};
  const timed = async <T>(name: SuiteName, fn: (c: Ctx) => Promise<T>): Promise<T | undefined> => {
    if (!cli.only.includes(name)) return undefined;
    const t0 = progress.elapsedSeconds();
    const r = await fn(ctx);
    suiteSeconds[name] = Math.round(progress.elapsedSeconds() - t0);
    return r;
  };
  results.http = await timed('http', runHttp);
  results.echo = await timed('echo', runEcho);
  results.timers = await timed('timers', runTimers);
  results.idle = await timed('idle', runIdle);
  results.boundary = await timed('boundary', runBoundary);
  results.udp = await timed('udp', runUdp);
  results.frameworks = await timed('frameworks', runFrameworks);
  results.workers = await timed('workers', runWorkers);
  progress.done();

  results.meta = {
    date: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    mode: settings.mode,
    settingsText: settingsText(settings, cli.only),
    machine: machine(),
    placement: tools.taskset
      ? `servers and measured children pinned to CPU ${ctx.serverCpu}; wrk, echo-client, strace and this runner pinned to CPU ${ctx.clientCpu} (taskset)${
          cli.only.includes('workers') ? '; in the workers suite, servers and wrk on every CPU' : ''
        }`
      : 'not pinned (taskset unavailable)',
    loadBefore,
    loadAfter: os.loadavg()[0]!.toFixed(2),
    commit: commit(p.root),
    totalSeconds: progress.elapsedSeconds(),
    suiteSeconds,
    node: process.version,
    wrk: tools.wrkVersion,
    libuv: tools.libuv ?? undefined,
    notes,
  };

  const { names } = writeResults(resultsDir, { settings, tools }, results);

  // A failed baseline run is an error; our rows may legitimately be "not available yet".
  const baselineFailures = [
    ...(results.http?.runs ?? []).filter((r) => !r.ok && !r.server.startsWith('ours')).map((r) => `http ${r.server} ${r.conns}c r${r.round}: ${r.error}`),
    ...(results.echo?.runs ?? []).filter((r) => !r.ok && !r.server.startsWith('ours')).map((r) => `echo ${r.server} ${r.conns}c r${r.round}: ${r.error}`),
    ...(results.timers?.runs ?? [])
      .filter((r) => !r.ok && (r.impl === 'node' || r.impl === 'c' || (r.impl === 'uv' && !r.error?.startsWith('not available'))))
      .map((r) => `timers ${r.impl} ${r.variant} r${r.round}: ${r.error}`),
    ...(results.idle?.runs ?? []).filter((r) => !r.ok && !r.impl.startsWith('ours')).map((r) => `idle ${r.impl} r${r.round}: ${r.error}`),
    ...(results.udp?.runs ?? []).filter((r) => !r.ok && !r.server.startsWith('ours')).map((r) => `udp ${r.server} ${r.load} r${r.round}: ${r.error}`),
    ...(results.frameworks?.runs ?? []).filter((r) => !r.ok && !r.server.startsWith('ours')).map((r) => `frameworks ${r.app} ${r.server} r${r.round}: ${r.error}`),
    ...(results.workers?.runs ?? []).filter((r) => !r.ok && !r.server.startsWith('ours')).map((r) => `workers ${r.server} r${r.round}: ${r.error}`),
  ];
  const rel = (f: string): string => path.relative(process.cwd(), path.join(resultsDir, f)) || f;
  console.log(`bench: ${settings.mode} run finished in ${progress.elapsedSeconds().toFixed(0)} s`);
  console.log(`bench: wrote ${rel('latest.md')}, ${rel('latest.json')} and ${names.length} charts (${names.join(', ')})`);
  if (!cli.save) console.log('bench: (git-ignored; --save writes the tracked report in bench/results/)');
  if (baselineFailures.length > 0) {
    console.error(`bench: ${baselineFailures.length} baseline run(s) failed:\n  ${baselineFailures.slice(0, 10).join('\n  ')}`);
    process.exitCode = 1;
  }
  if (liveCount() > 0) {
    console.error(`bench: ${liveCount()} child process(es) still running; stopping them`);
    await stopAll();
  }
}

let stopping = false;
async function interrupted(sig: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  progress.done();
  console.error(`bench: ${sig}: stopping ${liveCount()} child process(es)…`);
  await stopAll({ final: true });
  process.exit(130);
}
process.on('SIGINT', () => void interrupted('SIGINT'));
process.on('SIGTERM', () => void interrupted('SIGTERM'));
process.on('SIGHUP', () => void interrupted('SIGHUP'));
process.on('exit', killAllSync);

main().catch(async (e) => {
  progress.done();
  console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  await stopAll({ final: true });
  process.exit(1);
});
