/**
 * The bench's setup step: install libuv's headers (Debian's libuv1-dev) for the C programs on
 * libuv, build the C programs, find (or install from Debian's packages) wrk, strace and taskset,
 * pin this runner to the load-generator core.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Tools } from './context';
import { have, placement } from './proc';
import * as progress from './progress';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let aptUpdated = false;

/** `apt-get install -y PKG` (once more after `apt-get update` if it fails). Null on success. */
function aptInstall(pkg: string): string | null {
  if (!have('apt-get')) return `apt-get not found: install ${pkg} yourself`;
  if (!isRoot()) return `not root: run \`sudo apt-get install -y ${pkg}\``;
  const attempt = (): { ok: boolean; out: string } => {
    const r = spawnSync('apt-get', ['install', '-y', '-q', pkg], {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300_000,
    });
    return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  };
  progress.log(`setup: ${pkg} is missing; apt-get install -y ${pkg} …`);
  let r = attempt();
  if (!r.ok && !aptUpdated) {
    aptUpdated = true;
    spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', timeout: 300_000 });
    r = attempt();
  }
  if (!r.ok) return `apt-get install -y ${pkg} failed: ${r.out.trim().split('\n').slice(-2).join(' ')}`;
  return null;
}

/** Whether the C compiler finds <uv.h> (what bench/c/build.sh checks before building uv-*). */
function haveLibuvHeader(): boolean {
  const cc = process.env.CC || 'cc';
  return spawnSync('sh', ['-c', `printf '#include <uv.h>\\n' | "${cc}" -E -x c - >/dev/null 2>&1`]).status === 0;
}

/**
 * libuv for the C baselines on libuv: `apt-get install -y libuv1-dev` when its header is missing.
 * Returns the version found ("libuv 1.44.2") or why there is none (the uv-* rows then say so).
 */
export function ensureLibuv(): { version: string | null; problem: string | null } {
  let problem: string | null = null;
  if (!haveLibuvHeader()) problem = aptInstall('libuv1-dev');
  if (!haveLibuvHeader()) return { version: null, problem: problem ?? 'libuv1-dev installed, but <uv.h> is still not found' };
  const v = spawnSync('pkg-config', ['--modversion', 'libuv'], { encoding: 'utf8' });
  return { version: `libuv ${v.status === 0 ? v.stdout.trim() : '(version unknown)'}`, problem: null };
}

/** Build bench/c/bin/ (see bench/c/build.sh); throws if the build fails. */
export function buildC(root: string): void {
  const script = path.join(root, 'bench', 'c', 'build.sh');
  const r = spawnSync('sh', [script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/c/build.sh failed:\n${r.stdout}${r.stderr}`);
  for (const line of r.stdout.split('\n')) if (line.trim()) progress.log(line.trim());
}

export function findTools(needs: { wrk: boolean; strace: boolean }): Tools {
  const tools: Tools = { taskset: false, wrk: null, wrkVersion: 'wrk not used', wrkProblem: null, strace: false, straceProblem: null, libuv: null, libuvProblem: null };
  if (!have('taskset')) {
    const err = aptInstall('util-linux');
    if (err) progress.log(`setup: taskset unavailable (${err}); processes will NOT be pinned`);
  }
  tools.taskset = have('taskset');
  placement.taskset = tools.taskset;
  placement.allCpus = `0-${Math.max(0, os.cpus().length - 1)}`;
  if (needs.wrk) {
    if (!have('wrk')) tools.wrkProblem = aptInstall('wrk');
    if (have('wrk')) {
      tools.wrk = 'wrk';
      const v = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
      tools.wrkVersion = (`${v.stdout ?? ''}${v.stderr ?? ''}`.match(/wrk \S+/) ?? ['wrk'])[0];
      tools.wrkProblem = null;
    } else progress.log(`setup: wrk unavailable — the HTTP suite will be skipped (${tools.wrkProblem})`);
  }
  if (needs.strace) {
    if (!have('strace')) tools.straceProblem = aptInstall('strace');
    tools.strace = have('strace');
    if (!tools.strace) progress.log(`setup: strace unavailable — idle wake-ups will come from context switches only (${tools.straceProblem})`);
  }
  return tools;
}

/** Pin this runner (all its threads) to the load-generator core, away from the servers. */
export function pinSelf(cpu: number): void {
  if (!placement.taskset) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
  } catch {
    progress.log('setup: could not pin the runner itself (taskset -p failed); continuing');
  }
}
