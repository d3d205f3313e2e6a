import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fdSnapshot, pkg } from './helpers';

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

describe('onSignal with bad input', () => {
  it('throws as Node does (ERR_UNKNOWN_SIGNAL, ERR_INVALID_ARG_TYPE), and leaves no fd behind', () => {
    const fds = fdSnapshot();
    const loop = new pkg.Loop();
    try {
      const code = (fn: () => unknown): string | undefined => {
        try {
          fn();
        } catch (e) {
          expect(e).toBeInstanceOf(TypeError);
          return (e as NodeJS.ErrnoException).code;
        }
        return undefined;
      };
      const cb = (): void => {};
      expect(code(() => pkg.onSignal(loop, 'SIGFOO', cb))).toBe('ERR_UNKNOWN_SIGNAL');
      expect(code(() => pkg.onSignal(loop, 999, cb))).toBe('ERR_UNKNOWN_SIGNAL');
      expect(code(() => pkg.onSignal(loop, 1.5, cb))).toBe('ERR_UNKNOWN_SIGNAL');
      expect(code(() => pkg.onSignal(loop, {} as never, cb))).toBe('ERR_INVALID_ARG_TYPE');
      expect(code(() => pkg.onSignal(loop, 'SIGTERM', 'x' as never))).toBe('ERR_INVALID_ARG_TYPE');
      // Node's own message for an unknown name, compared: process.kill(pid, 'SIGFOO')
      let nodeMessage = '';
      try {
        process.kill(process.pid, 'SIGFOO');
      } catch (e) {
        nodeMessage = (e as Error).message;
      }
      expect(() => pkg.onSignal(loop, 'SIGFOO', cb)).toThrow(nodeMessage);
      // a valid one opens and, closed, releases its fds
      const h = pkg.onSignal(loop, 'SIGUSR2', cb);
      h.close();
      expect(loop.alive).toBe(false);
    } finally {
      loop.close();
    }
    fds.check();
  });
});
