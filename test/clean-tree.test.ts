/**
 * The project's rule that commands write outside tracked files unless asked: the lessons that
 * write (a chart, a trace) and the bench's report renderer, run with their defaults from the
 * package directory, leave `git status` exactly as it was. (Skipped where the package is not a
 * git checkout, e.g. installed from the tarball.)
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageDir, runChild } from './helpers';

function gitStatus(): string | null {
  try {
    return execFileSync('git', ['-C', packageDir, 'status', '--porcelain', '--untracked-files=all'], { encoding: 'utf8' });
  } catch {
    return null;
  }
}

const before = gitStatus();

describe.skipIf(before === null)('commands leave the working tree as they found it', () => {
  it('lessons 4 and 6 with their default output paths, and the bench report renderer', async () => {
    const node = process.execPath;
    const runs = [
      [join(packageDir, 'dist/examples/learn/04-poll-vs-epoll.js'), '--quick'],
      [join(packageDir, 'dist/examples/learn/06-timeout-from-timers.js'), '--quick'],
      [join(packageDir, 'dist/bench/run.js'), '--render', join(packageDir, 'bench/results/latest.json')],
    ];
    for (const args of runs) {
      const r = await runChild(node, args, { cwd: packageDir, timeoutMs: 60_000 });
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
      expect(gitStatus(), `${args.join(' ')} changed the working tree`).toBe(before);
    }
  });
});
