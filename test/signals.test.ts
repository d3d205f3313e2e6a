import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const child = join(__dirname, 'fixtures/signal-child.cjs');
describe('onSignal', () => {
  for (const mode of ['attached', 'standalone']) {
    it(`delivers SIGTERM to an idle ${mode} loop, Node's handler still fires`, () => {
      const out = execFileSync(process.execPath, [child, mode], { timeout: 10000 }).toString();
      expect(out).toMatch(/got SIGTERM 15/);
      const m = /node (\d+) fds (\d+) (\d+)/.exec(out);
      expect(m?.[1]).toBe('1');
    });
  }
});
