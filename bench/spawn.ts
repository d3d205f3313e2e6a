/**
 * Child processes, ours against Node's child_process, interleaved in one run:
 *
 *   npm run build:ts && node dist/bench/spawn.js [--spawns N] [--mb M] [--rounds R]
 *
 * - spawn: `/bin/true` started and waited for N times one after the other (spawn → 'close');
 *   wall time and this process's CPU time per child.
 * - stdout: `head -c M MiB /dev/zero` read to the end through the child's stdout (a socketpair
 *   in both): MiB/s of wall time.
 * Ratios are ours / Node per round; the report gives medians and the spread (min–max). A
 * standalone script, not a suite of bench/run.ts: it measures the spawn path, not a server.
 */
import * as nodeCp from 'node:child_process';
import { childProcess } from '../lib/index';

interface Sample {
  wallMs: number;
  cpuMs: number;
}

type Spawn = (file: string, args: string[], options: { stdio: ('pipe' | 'ignore')[] }) => nodeCp.ChildProcess;
const SPAWNERS: Record<'ours' | 'node', Spawn> = {
  ours: (file, args, options) => childProcess.spawn(file, args, options) as unknown as nodeCp.ChildProcess,
  node: (file, args, options) => nodeCp.spawn(file, args, options),
};

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

async function timed(run: () => Promise<void>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function closed(child: nodeCp.ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}

async function spawnMany(spawn: Spawn, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await closed(spawn('/bin/true', [], { stdio: ['ignore', 'ignore', 'ignore'] }));
}

async function readStdout(spawn: Spawn, mb: number): Promise<void> {
  const child = spawn('head', ['-c', `${mb}M`, '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let bytes = 0;
  child.stdout!.on('data', (d: Buffer) => {
    bytes += d.length;
  });
  await closed(child);
  if (bytes !== mb * 1024 * 1024) throw new Error(`read ${bytes} bytes, expected ${mb} MiB`);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[], digits = 2): string =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  const spawns = arg('spawns', 200);
  const mb = arg('mb', 256);
  const rounds = arg('rounds', 5);
  const perSpawn = { ours: [] as number[], node: [] as number[] };
  const cpuPerSpawn = { ours: [] as number[], node: [] as number[] };
  const mibps = { ours: [] as number[], node: [] as number[] };
  const ratios = { spawnWall: [] as number[], spawnCpu: [] as number[], stdout: [] as number[] };
  await spawnMany(SPAWNERS.ours, 10); // warm-up: code paths compiled, the addon loaded
  await spawnMany(SPAWNERS.node, 10);
  for (let r = 0; r < rounds; r++) {
    const order: ('ours' | 'node')[] = r % 2 ? ['node', 'ours'] : ['ours', 'node'];
    const round: Record<string, { s: Sample; t: Sample }> = {};
    for (const who of order) {
      const s = await timed(() => spawnMany(SPAWNERS[who], spawns));
      const t = await timed(() => readStdout(SPAWNERS[who], mb));
      round[who] = { s, t };
      perSpawn[who].push((s.wallMs * 1000) / spawns);
      cpuPerSpawn[who].push((s.cpuMs * 1000) / spawns);
      mibps[who].push(mb / (t.wallMs / 1000));
    }
    ratios.spawnWall.push(round.ours!.s.wallMs / round.node!.s.wallMs);
    ratios.spawnCpu.push(round.ours!.s.cpuMs / round.node!.s.cpuMs);
    ratios.stdout.push(round.node!.t.wallMs / round.ours!.t.wallMs);
  }
  console.log(`# spawn bench: ${spawns} × /bin/true, ${mb} MiB of stdout, ${rounds} rounds (median (min–max))`);
  console.log(`spawn → close, wall µs/child:   ours ${fmt(perSpawn.ours, 0)}   node ${fmt(perSpawn.node, 0)}   ours/node ${fmt(ratios.spawnWall)}`);
  console.log(`spawn → close, CPU µs/child:    ours ${fmt(cpuPerSpawn.ours, 0)}   node ${fmt(cpuPerSpawn.node, 0)}   ours/node ${fmt(ratios.spawnCpu)}`);
  console.log(`stdout read, MiB/s:             ours ${fmt(mibps.ours, 0)}   node ${fmt(mibps.node, 0)}   ours/node ${fmt(ratios.stdout)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
